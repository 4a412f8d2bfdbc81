package org.rtarget.config;

import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * How a LUN behaves while its storage recovers.
 *
 * @param enable   whether the LUN may enter standby at all ({@code standby-enable}); the per-LUN fuse,
 *                 effective only on a backend that can signal its recovery
 * @param busyMax  how long to answer BUSY before the fallback ({@code standby-busy-max})
 * @param fallback what to answer after that ({@code standby-fallback})
 * @param errors   errno names that switch standby on ({@code standby-errors}), upper case
 */
public record StandbyConfig(boolean enable, Duration busyMax, Fallback fallback, List<String> errors) {

    public static final Duration DEFAULT_BUSY_MAX = Duration.ofSeconds(60);
    /**
     * EBUSY, ENOTCONN and EIO as ploop's standby mode names them, and ECONNABORTED: what a FUSE
     * file system (vStorage is one) gives the requests in flight when its daemon dies.
     */
    public static final List<String> DEFAULT_ERRORS = List.of("EBUSY", "ENOTCONN", "EIO", "ECONNABORTED");

    /** The errno names an operator may list in {@code standby-errors}. */
    public static final List<String> ERRNO_NAMES = List.of(
            "EPERM", "ENOENT", "EINTR", "EIO", "ENXIO", "EBADF", "EAGAIN", "ENOMEM", "EACCES",
            "EFAULT", "EBUSY", "ENODEV", "EINVAL", "EFBIG", "ENOSPC", "EROFS", "EPIPE", "ENODATA",
            "EOPNOTSUPP", "ECONNABORTED", "ECONNRESET", "ENOTCONN", "ESHUTDOWN", "ETIMEDOUT", "ESTALE", "EDQUOT");

    /** What a LUN answers once {@code busyMax} of BUSY has passed. */
    public enum Fallback {
        /** NOT READY 04h/0Bh: target port in standby, so multipath fails over. */
        NOT_READY,
        /** Drop the connections to the LUN's target. */
        DROP,
        /** HARDWARE ERROR. */
        HARDWARE_ERROR;

        /** The word used in the YAML: {@code not-ready}, {@code drop}, {@code hardware-error}. */
        public String yamlName() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }
    }

    public StandbyConfig {
        Objects.requireNonNull(busyMax, "busyMax");
        Objects.requireNonNull(fallback, "fallback");
        errors = List.copyOf(errors);
    }

    public static StandbyConfig defaults() {
        return new StandbyConfig(true, DEFAULT_BUSY_MAX, Fallback.NOT_READY, DEFAULT_ERRORS);
    }
}
