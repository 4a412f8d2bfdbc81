package org.rtarget.config;

import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;
import java.util.function.Function;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/** The scalar types the config uses, each with the messages an operator sees. */
final class Scalars {

    private static final Pattern LUN_NAME_CHARS = Pattern.compile("[A-Za-z0-9._-]{1,64}");
    private static final Pattern ENV_NAME_CHARS = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
    private static final Pattern INTEGER = Pattern.compile("[+-]?\\d+");

    static final ScalarType<String> STRING = new ScalarType<>("a string", text -> {
        if (text.isEmpty()) {
            throw new IllegalArgumentException("must not be empty");
        }
        return text;
    });

    static final ScalarType<Boolean> BOOLEAN = new ScalarType<>("true or false", text ->
            switch (text.toLowerCase(Locale.ROOT)) {
                case "true", "yes" -> true;
                case "false", "no" -> false;
                default -> throw new IllegalArgumentException("\"" + text + "\" is not true, false, yes or no");
            });

    /** A size in bytes, more than zero ("0 = not given" in the model). */
    static final ScalarType<Long> SIZE = new ScalarType<>("a size", Sizes::parse)
            .require(bytes -> bytes > 0, bytes -> "must be more than 0 bytes");

    static final ScalarType<Duration> DURATION = new ScalarType<>("a duration", Durations::parse);

    static final ScalarType<Duration> POSITIVE_DURATION =
            DURATION.require(d -> !d.isZero(), d -> "must be more than 0");

    static final ScalarType<String> ISCSI_NAME = new ScalarType<>("an iSCSI name", text -> {
        IscsiNames.check(text);
        return text;
    });

    /** LUN names become file names under the state dir, hence the narrow charset and no "." or "..". */
    static final ScalarType<String> LUN_NAME = new ScalarType<>("a LUN name", text -> {
        if (!LUN_NAME_CHARS.matcher(text).matches()) {
            throw new IllegalArgumentException("\"" + text
                    + "\" is not a LUN name (1 to 64 of A-Z a-z 0-9 . _ -)");
        }
        if (text.equals(".") || text.equals("..")) {
            throw new IllegalArgumentException("\"" + text + "\" is not a LUN name (it names a directory)");
        }
        return text;
    });

    static final ScalarType<Integer> BLOCK_SIZE = integer(1, Integer.MAX_VALUE)
            .require(size -> size == 512 || size == 4096, size -> "must be 512 or 4096, got " + size);

    static final ScalarType<BackendType> BACKEND =
            enumeration("a backend", BackendType.values(), BackendType::yamlName);

    static final ScalarType<StandbyConfig.Fallback> FALLBACK =
            enumeration("a fallback", StandbyConfig.Fallback.values(), StandbyConfig.Fallback::yamlName);

    static final ScalarType<DriverConfig.Recovery> RECOVERY =
            enumeration("a recovery mode", DriverConfig.Recovery.values(), DriverConfig.Recovery::yamlName);

    static final ScalarType<ChapDigest> CHAP_DIGEST =
            enumeration("a CHAP algorithm", ChapDigest.values(), ChapDigest::yamlName);

    static final ScalarType<String> ERRNO_NAME = new ScalarType<>("an errno name", text -> {
        String upper = text.toUpperCase(Locale.ROOT);
        if (!StandbyConfig.ERRNO_NAMES.contains(upper)) {
            // one edit only: errno names are so short that two edits reach unrelated ones
            String hint = EditDistance.closest(upper, StandbyConfig.ERRNO_NAMES, 1)
                    .map(name -> "did you mean " + name + "?")
                    .orElse("expected one of " + String.join(" ", StandbyConfig.ERRNO_NAMES));
            throw new IllegalArgumentException("\"" + text + "\" is not an errno name (" + hint + ")");
        }
        return upper;
    });

    static final ScalarType<String> CIDR = new ScalarType<>("an address or CIDR", text -> {
        Cidr.parse(text);
        return text;
    });

    static final ScalarType<String> ENV_NAME = new ScalarType<>("an environment variable name", text -> {
        if (!ENV_NAME_CHARS.matcher(text).matches()) {
            throw new IllegalArgumentException("\"" + text + "\" is not an environment variable name");
        }
        return text;
    });

    private Scalars() {
    }

    static ScalarType<Integer> integer(int min, int max) {
        return new ScalarType<>("an integer", text -> {
            if (!INTEGER.matcher(text).matches()) {
                throw new IllegalArgumentException("\"" + text + "\" is not an integer");
            }
            long value;
            try {
                value = Long.parseLong(text);
            } catch (NumberFormatException e) {
                value = text.startsWith("-") ? Long.MIN_VALUE : Long.MAX_VALUE;
            }
            if (value < min || value > max) {
                throw new IllegalArgumentException("must be " + min + ".." + max + ", got " + text);
            }
            return (int) value;
        });
    }

    /** YAML scalars cannot hold "[::]:3260" unquoted (it reads as a list), hence the hint. */
    static ScalarType<HostPort> hostPort(int defaultPort) {
        return new ScalarType<>("a host:port string (quote IPv6, as in \"[::]:3260\")",
                text -> HostPort.parse(text, defaultPort));
    }

    /** A path; relative ones resolve against the directory of the config file. */
    static ScalarType<Path> path(Path baseDir) {
        return new ScalarType<>("a path", text -> {
            if (text.isEmpty()) {
                throw new IllegalArgumentException("must not be empty");
            }
            try {
                return baseDir.resolve(text).normalize();
            } catch (InvalidPathException e) {
                throw new IllegalArgumentException("\"" + text + "\" is not a path: " + e.getReason());
            }
        });
    }

    private static <E extends Enum<E>> ScalarType<E> enumeration(String description, E[] values,
                                                                 Function<E, String> yamlName) {
        return new ScalarType<>(description, text -> Arrays.stream(values)
                .filter(value -> yamlName.apply(value).equals(text))
                .findFirst()
                .orElseThrow(() -> new IllegalArgumentException("\"" + text + "\" is not " + description
                        + " (expected " + Arrays.stream(values).map(yamlName).collect(Collectors.joining(", "))
                        + ")")));
    }
}
