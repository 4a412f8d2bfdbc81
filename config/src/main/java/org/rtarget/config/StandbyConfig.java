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
 * @param errors   errno names that switch standby on ({@code standby-errors}), upper case; null when
 *                 the configuration names none: then the backend's default applies ({@link #DEFAULT_ERRORS},
 *                 or {@link #DEFAULT_ERRORS_LOCAL} where EIO means a bad block, not an outage)
 * @param stallTimeout how long a command may be at the storage before the LUN counts as stalled
 *                 ({@code stall-timeout}; zero: never)
 * @param drainTimeout how long a device switch (recovery, replace-delta, a reload's rebuild) waits
 *                 for the commands at the old device ({@code drain-timeout})
 */
public record StandbyConfig(boolean enable, Duration busyMax, Fallback fallback, List<String> errors,
                            Duration stallTimeout, Duration drainTimeout) {

    public static final Duration DEFAULT_BUSY_MAX = Duration.ofSeconds(60);
    public static final Duration DEFAULT_STALL_TIMEOUT = Duration.ofSeconds(10);
    public static final Duration DEFAULT_DRAIN_TIMEOUT = Duration.ofSeconds(30);
    /**
     * EBUSY, ENOTCONN and EIO as ploop's standby mode names them, and ECONNABORTED: what a FUSE
     * file system (vStorage is one) gives the requests in flight when its daemon dies. For storage
     * that fails by being unreachable for a while: ploop, ublk drivers, images on FUSE or network
     * file systems.
     */
    public static final List<String> DEFAULT_ERRORS = List.of("EBUSY", "ENOTCONN", "EIO", "ECONNABORTED");
    /**
     * The same without EIO, for an image on a local file system: there EIO is one bad block, which
     * the initiator should hear about for that command, not a reason to take the whole LUN away.
     */
    public static final List<String> DEFAULT_ERRORS_LOCAL = List.of("EBUSY", "ENOTCONN", "ECONNABORTED");

    /** The errno names an operator may list in {@code standby-errors}. */
    public static final List<String> ERRNO_NAMES = List.of(
            "EPERM", "ENOENT", "EINTR", "EIO", "ENXIO", "EBADF", "EAGAIN", "ENOMEM", "EACCES",
            "EFAULT", "EBUSY", "ENODEV", "EINVAL", "EFBIG", "ENOSPC", "EROFS", "EPIPE", "ENODATA",
            "EOPNOTSUPP", "ECONNABORTED", "ECONNRESET", "ENOTCONN", "ESHUTDOWN", "ETIMEDOUT", "ESTALE", "EDQUOT");

    /** What a LUN answers once {@code busyMax} of BUSY has passed. */
    public enum Fallback {
        /** NOT READY (04h/03h, or 04h/0Bh on a LUN that reports ALUA): multipath fails the path over. */
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
        Objects.requireNonNull(stallTimeout, "stallTimeout");
        Objects.requireNonNull(drainTimeout, "drainTimeout");
        errors = errors == null ? null : List.copyOf(errors);
    }

    /** Standby settings with the given errno names and default timeouts. */
    public StandbyConfig(boolean enable, Duration busyMax, Fallback fallback, List<String> errors) {
        this(enable, busyMax, fallback, errors, DEFAULT_STALL_TIMEOUT, DEFAULT_DRAIN_TIMEOUT);
    }

    public static StandbyConfig defaults() {
        return new StandbyConfig(true, DEFAULT_BUSY_MAX, Fallback.NOT_READY, null);
    }

    /** The errno names that switch standby on: the configured ones, or {@code backendDefault}. */
    public List<String> errorsOr(List<String> backendDefault) {
        return errors != null ? errors : backendDefault;
    }
}
