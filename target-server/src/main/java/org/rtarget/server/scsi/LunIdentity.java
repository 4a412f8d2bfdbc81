package org.rtarget.server.scsi;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * What makes a logical unit the same disk to an initiator across restarts and reloads: its NAA
 * identifier and serial number, both derived from the LUN's configured name and nothing else.
 *
 * <p>The NAA designator is NAA 3h ("locally assigned"): we own no IEEE company identifier, so we do
 * not claim one. Its 60 bits come from SHA-256 of the name.
 */
public record LunIdentity(String name, long naa, String serial, String vendor, String product, String revision) {

    public static final String VENDOR = "RTARGET";
    public static final String PRODUCT_PREFIX = "rtarget ";
    public static final String REVISION = "0001";

    /** The identity of the LUN called {@code name}, for a disk of the given backend kind. */
    public static LunIdentity of(String name, String backendKind) {
        byte[] hash = sha256("rtarget-lun:" + name);
        long bits = 0;
        for (int i = 0; i < 8; i++) {
            bits = (bits << 8) | (hash[i] & 0xff);
        }
        long naa = (3L << 60) | (bits >>> 4);
        String serial = HexFormat.of().withUpperCase().formatHex(hash, 8, 16);
        return new LunIdentity(name, naa, serial, VENDOR, PRODUCT_PREFIX + backendKind, REVISION);
    }

    /** The NAA designator's 8 bytes, big-endian. */
    public byte[] naaBytes() {
        byte[] b = new byte[8];
        for (int i = 0; i < 8; i++) {
            b[i] = (byte) (naa >>> (56 - 8 * i));
        }
        return b;
    }

    /** The identifier as Linux shows it (/dev/disk/by-id/wwn-0x...). */
    public String wwn() {
        return String.format("0x%016x", naa);
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK always has SHA-256", e);
        }
    }
}
