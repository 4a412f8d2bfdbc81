package org.rtarget.server.iscsi;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Set;
import org.rtarget.config.ChapDigest;

/**
 * The CHAP_A values this target speaks (IANA PPP authentication algorithms, as RFC 7143 and the Linux
 * target use them), weakest first: the declaration order is the order of strength.
 */
enum ChapAlgorithm {
    MD5(5, "MD5", ChapDigest.MD5),
    SHA1(6, "SHA-1", ChapDigest.SHA1),
    SHA256(7, "SHA-256", ChapDigest.SHA256),
    SHA3_256(8, "SHA3-256", ChapDigest.SHA3_256);

    private final int code;
    private final String digestName;
    private final ChapDigest configName;
    private final int length;

    ChapAlgorithm(int code, String digestName, ChapDigest configName) {
        this.code = code;
        this.digestName = digestName;
        this.configName = configName;
        this.length = newDigest(digestName).getDigestLength();
    }

    /** The CHAP_A value. */
    int code() {
        return code;
    }

    /** The digest length in bytes. */
    int length() {
        return length;
    }

    /** RFC 1994: hash of the identifier byte, the secret and the challenge. */
    byte[] response(int identifier, byte[] secret, byte[] challenge) {
        MessageDigest digest = newDigest(digestName);
        digest.update((byte) identifier);
        digest.update(secret);
        digest.update(challenge);
        return digest.digest();
    }

    /**
     * The strongest algorithm of a CHAP_A offer (a comma-separated list) that {@code allowed} contains,
     * or null when there is none. Values that are not numbers are passed over.
     */
    static ChapAlgorithm strongestOf(String offer, Set<ChapDigest> allowed) {
        ChapAlgorithm best = null;
        for (String value : offer.split(",", -1)) {
            for (ChapAlgorithm a : values()) {
                if (value.equals(Integer.toString(a.code)) && allowed.contains(a.configName)
                        && (best == null || a.compareTo(best) > 0)) {
                    best = a;
                }
            }
        }
        return best;
    }

    @Override
    public String toString() {
        return digestName;
    }

    private static MessageDigest newDigest(String name) {
        try {
            return MessageDigest.getInstance(name);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java 17+ runtime has " + name, e);
        }
    }
}
