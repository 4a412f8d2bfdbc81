package org.rtarget.server.iscsi;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * The initiator side of a login through the security stage (RFC 7143 12.1.3) over a {@link TestInitiator}.
 * It computes CHAP responses itself with {@link MessageDigest}, independently of the target's code.
 */
final class ChapInitiator {
    static final int SECURITY_TO_OPERATIONAL = 0x81;
    static final int SECURITY_STAY = 0x01;
    static final int OPERATIONAL_TO_FULL_FEATURE = 0x87;
    /** CHAP_A value to the JCA name of its hash. */
    static final Map<Integer, String> DIGESTS = Map.of(5, "MD5", 6, "SHA-1", 7, "SHA-256", 8, "SHA3-256");

    /** The target's challenge: CHAP_A, CHAP_I, CHAP_C as sent. */
    record Challenge(int algorithm, int identifier, byte[] value) {
    }

    final TestInitiator ini;
    private final int itt;

    ChapInitiator(TestInitiator ini) {
        this.ini = ini;
        this.itt = ini.itt(); // one ITT for every PDU of the login
    }

    /** One Login Request with {@code flags}; returns the response. */
    WirePdu send(int flags, List<String> keys) {
        ini.send(TestPdus.loginStage(ini.isid, itt, ini.cmdSn, ini.expStatSn, flags, keys));
        WirePdu r = ini.receiveOne();
        assertThat(r.opcode()).isEqualTo(TestPdus.LOGIN_RESPONSE);
        ini.tsih = r.tsih();
        return r;
    }

    WirePdu send(int flags, String... keys) {
        return send(flags, List.of(keys));
    }

    /** The first request of a normal session in the security stage, offering {@code authMethod}. */
    WirePdu start(String targetName, String authMethod) {
        return send(SECURITY_TO_OPERATIONAL, "InitiatorName=" + TestInitiator.NAME, "TargetName=" + targetName,
                "SessionType=Normal", "AuthMethod=" + authMethod);
    }

    /** The same for a discovery session. */
    WirePdu startDiscovery(String authMethod) {
        return send(SECURITY_TO_OPERATIONAL, "InitiatorName=" + TestInitiator.NAME, "SessionType=Discovery",
                "AuthMethod=" + authMethod);
    }

    /** Sends CHAP_A and reads the challenge from the answer. */
    Challenge algorithms(String offer) {
        WirePdu r = send(SECURITY_STAY, "CHAP_A=" + offer);
        assertThat(r.loginStatus()).as("status after CHAP_A").isZero();
        List<String> keys = r.keys();
        return new Challenge(Integer.parseInt(Captures.value(keys, "CHAP_A")),
                Integer.parseInt(Captures.value(keys, "CHAP_I")), decode(Captures.value(keys, "CHAP_C")));
    }

    /** The operational stage with the usual keys, to full feature phase. */
    WirePdu operational() {
        List<String> keys = new ArrayList<>(TestInitiator.normalKeys(TestTarget.IQN, 262144));
        keys.removeIf(k -> k.startsWith("InitiatorName=") || k.startsWith("TargetName=") || k.startsWith("SessionType="));
        return send(OPERATIONAL_TO_FULL_FEATURE, keys);
    }

    /** One-way CHAP to the end of the security stage; returns the response to CHAP_N/CHAP_R. */
    WirePdu oneWay(String targetName, String offer, String user, String secret) {
        assertThat(start(targetName, "CHAP,None").keys()).contains("AuthMethod=CHAP");
        Challenge c = algorithms(offer);
        return send(SECURITY_TO_OPERATIONAL, "CHAP_N=" + user,
                "CHAP_R=" + hex(response(c.algorithm(), c.identifier(), secret, c.value())));
    }

    /** RFC 1994: hash of the identifier byte, the secret and the challenge. */
    static byte[] response(int algorithm, int identifier, String secret, byte[] challenge) {
        try {
            MessageDigest md = MessageDigest.getInstance(DIGESTS.get(algorithm));
            md.update((byte) identifier);
            md.update(secret.getBytes(StandardCharsets.UTF_8));
            md.update(challenge);
            return md.digest();
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    static String hex(byte[] value) {
        return "0x" + HexFormat.of().formatHex(value);
    }

    /** A hex binary value as libiscsi, the other common initiator, writes it: upper case. */
    static String upperHex(byte[] value) {
        return "0x" + HexFormat.of().withUpperCase().formatHex(value);
    }

    static byte[] decode(String value) {
        assertThat(value).as("binary value").startsWith("0x");
        return HexFormat.of().parseHex(value.substring(2));
    }
}
