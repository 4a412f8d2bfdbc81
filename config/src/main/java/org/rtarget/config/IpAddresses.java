package org.rtarget.config;

/**
 * Parses IP address literals by hand: {@code InetAddress.getByName} would quietly fall back
 * to a DNS lookup for anything that is not a literal, and accepts odd forms like "1.2.3".
 */
final class IpAddresses {

    private IpAddresses() {
    }

    /** Four bytes for a dotted quad, or null if the text is not one. */
    static byte[] parseIpv4(String text) {
        String[] parts = text.split("\\.", -1);
        if (parts.length != 4) {
            return null;
        }
        byte[] bytes = new byte[4];
        for (int i = 0; i < 4; i++) {
            String part = parts[i];
            if (part.isEmpty() || part.length() > 3 || !part.chars().allMatch(IpAddresses::isDigit)) {
                return null;
            }
            int value = Integer.parseInt(part);
            if (value > 255) {
                return null;
            }
            bytes[i] = (byte) value;
        }
        return bytes;
    }

    /** Sixteen bytes for an IPv6 literal (with "::" and an optional dotted-quad tail), or null. */
    static byte[] parseIpv6(String text) {
        int gap = text.indexOf("::");
        if (gap >= 0 && text.indexOf("::", gap + 1) >= 0) {
            return null;
        }
        String head = gap >= 0 ? text.substring(0, gap) : text;
        String tail = gap >= 0 ? text.substring(gap + 2) : "";
        int[] headGroups = groups(head, gap < 0);
        int[] tailGroups = gap >= 0 ? groups(tail, true) : new int[0];
        if (headGroups == null || tailGroups == null) {
            return null;
        }
        int count = headGroups.length + tailGroups.length;
        if (gap < 0 ? count != 8 : count > 7) {
            return null;
        }
        byte[] bytes = new byte[16];
        for (int i = 0; i < headGroups.length; i++) {
            put(bytes, i, headGroups[i]);
        }
        for (int i = 0; i < tailGroups.length; i++) {
            put(bytes, 8 - tailGroups.length + i, tailGroups[i]);
        }
        return bytes;
    }

    /** The 16-bit groups of one side of "::"; the last side may end in a dotted quad. */
    private static int[] groups(String text, boolean mayEndInIpv4) {
        if (text.isEmpty()) {
            return new int[0];
        }
        String[] parts = text.split(":", -1);
        int last = parts.length - 1;
        byte[] ipv4 = mayEndInIpv4 && parts[last].contains(".") ? parseIpv4(parts[last]) : null;
        int[] result = new int[ipv4 != null ? parts.length + 1 : parts.length];
        for (int i = 0; i < parts.length; i++) {
            if (i == last && ipv4 != null) {
                result[i] = (ipv4[0] & 0xff) << 8 | (ipv4[1] & 0xff);
                result[i + 1] = (ipv4[2] & 0xff) << 8 | (ipv4[3] & 0xff);
                continue;
            }
            String part = parts[i];
            if (part.isEmpty() || part.length() > 4 || !part.chars().allMatch(IpAddresses::isHexDigit)) {
                return null;
            }
            result[i] = Integer.parseInt(part, 16);
        }
        return result;
    }

    private static void put(byte[] bytes, int group, int value) {
        bytes[2 * group] = (byte) (value >> 8);
        bytes[2 * group + 1] = (byte) value;
    }

    static boolean isDigit(int c) {
        return c >= '0' && c <= '9';
    }

    static boolean isHexDigit(int c) {
        return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    }
}
