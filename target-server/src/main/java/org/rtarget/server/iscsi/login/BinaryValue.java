package org.rtarget.server.iscsi.login;

import java.util.Base64;
import java.util.HexFormat;

/**
 * The binary-value encodings of iSCSI text (RFC 7143 6.1): {@code 0x} or {@code 0X} followed by hex
 * digits in either case, or {@code 0b} or {@code 0B} followed by base64. CHAP challenges and
 * responses travel this way.
 */
public final class BinaryValue {

    private BinaryValue() {
    }

    /**
     * Decodes a binary value; an odd number of hex digits has an implied leading zero.
     *
     * @throws IllegalArgumentException if the text is not a binary value, with a message that quotes
     *                                  none of it (it may be a CHAP response)
     */
    public static byte[] decode(String text) {
        if (text.length() < 3 || text.charAt(0) != '0') {
            throw new IllegalArgumentException("not a binary value (0x... or 0b...)");
        }
        String digits = text.substring(2);
        return switch (text.charAt(1)) {
            case 'x', 'X' -> hex(digits);
            case 'b', 'B' -> base64(digits);
            default -> throw new IllegalArgumentException("not a binary value (0x... or 0b...)");
        };
    }

    /** Encodes as lower-case hex with the {@code 0x} prefix, the form every initiator reads. */
    public static String encodeHex(byte[] value) {
        return "0x" + HexFormat.of().formatHex(value);
    }

    private static byte[] hex(String digits) {
        String even = digits.length() % 2 == 0 ? digits : "0" + digits;
        try {
            return HexFormat.of().parseHex(even);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("malformed hex value");
        }
    }

    private static byte[] base64(String digits) {
        try {
            return Base64.getDecoder().decode(digits);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("malformed base64 value");
        }
    }
}
