package org.rtarget.config;

import java.math.BigDecimal;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Byte sizes as operators write them: "512", "64K", "256M", "1G", "2T", "1GiB", "1.5G".
 * K/M/G/T (any case, optionally followed by "B" or "iB") are powers of 1024; a plain
 * number is bytes.
 */
public final class Sizes {

    private static final Pattern SIZE =
            Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*(?:([kmgt])(?:i?b)?|b)?", Pattern.CASE_INSENSITIVE);
    private static final String UNITS = "KMGT";
    private static final BigDecimal MAX = BigDecimal.valueOf(Long.MAX_VALUE);

    private Sizes() {
    }

    /** @throws IllegalArgumentException with a message fit for an operator */
    public static long parse(String text) {
        Matcher m = SIZE.matcher(text.strip());
        if (!m.matches()) {
            throw new IllegalArgumentException("\"" + text + "\" is not a size");
        }
        BigDecimal bytes = new BigDecimal(m.group(1));
        if (m.group(2) != null) {
            int power = UNITS.indexOf(m.group(2).toUpperCase(Locale.ROOT)) + 1;
            bytes = bytes.multiply(BigDecimal.valueOf(1024).pow(power));
        }
        if (bytes.stripTrailingZeros().scale() > 0) {
            throw new IllegalArgumentException("\"" + text + "\" is not a whole number of bytes");
        }
        if (bytes.compareTo(MAX) > 0) {
            throw new IllegalArgumentException("\"" + text + "\" is too large");
        }
        return bytes.longValueExact();
    }

    /** "1 GiB", "1536 MiB", "512 bytes": the largest binary unit that divides the size exactly. */
    public static String format(long bytes) {
        String[] units = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        int unit = 0;
        long value = bytes;
        while (value != 0 && value % 1024 == 0 && unit < units.length - 1) {
            value /= 1024;
            unit++;
        }
        return value + " " + units[unit];
    }
}
