package org.rtarget.config;

import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;

/**
 * iSCSI names (RFC 3720 3.2.6, RFC 7143 4.2.7): "iqn.YYYY-MM.reversed.domain[:anything]",
 * "eui." + 16 hex digits, or "naa." + 16 or 32 hex digits; at most 223 bytes.
 */
public final class IscsiNames {

    public static final int MAX_BYTES = 223;

    private static final Pattern IQN = Pattern.compile(
            "iqn\\.\\d{4}-(0[1-9]|1[0-2])\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[^\\s\\p{Cntrl}]+)?");
    private static final Pattern EUI = Pattern.compile("eui\\.[0-9A-Fa-f]{16}");
    private static final Pattern NAA = Pattern.compile("naa\\.([0-9A-Fa-f]{16}|[0-9A-Fa-f]{32})");

    private IscsiNames() {
    }

    public static boolean isValid(String name) {
        try {
            check(name);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /** @throws IllegalArgumentException with a message fit for an operator */
    public static void check(String name) {
        if (name.getBytes(StandardCharsets.UTF_8).length > MAX_BYTES) {
            throw new IllegalArgumentException("\"" + name + "\" is longer than " + MAX_BYTES + " bytes");
        }
        if (name.startsWith("iqn.") && name.chars().anyMatch(c -> c >= 'A' && c <= 'Z')) {
            throw new IllegalArgumentException("\"" + name + "\" has upper-case letters; iqn names are lower case");
        }
        if (!IQN.matcher(name).matches() && !EUI.matcher(name).matches() && !NAA.matcher(name).matches()) {
            throw new IllegalArgumentException("\"" + name + "\" is not an iSCSI name "
                    + "(expected iqn.YYYY-MM.reversed.domain[:name], eui.<16 hex digits> or naa.<16 or 32 hex digits>)");
        }
    }
}
