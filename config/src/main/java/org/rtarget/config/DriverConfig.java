package org.rtarget.config;

import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * The user-space driver process behind a ublk LUN.
 *
 * @param command        program and arguments; the supervisor appends {@code --socket PATH}
 * @param recovery       what happens to requests when the driver crashes
 * @param restartBackoff wait before starting a new driver ({@code restart-backoff})
 * @param restartLimit   restarts allowed before giving up ({@code restart-limit})
 * @param requestTimeout the per-request watchdog ({@code request-timeout}); queued requests
 *                       would otherwise wait without bound in {@code queue}/{@code reissue} modes
 * @param queues         hardware queues the driver serves ({@code queues}, default 1)
 * @param queueDepth     tags per queue ({@code queue-depth}, default 64)
 */
public record DriverConfig(List<String> command, Recovery recovery, Duration restartBackoff,
                           int restartLimit, Duration requestTimeout, int queues, int queueDepth) {

    public static final int DEFAULT_QUEUES = 1;
    public static final int DEFAULT_QUEUE_DEPTH = 64;

    public static final Recovery DEFAULT_RECOVERY = Recovery.REISSUE;
    public static final Duration DEFAULT_RESTART_BACKOFF = Duration.ofSeconds(1);
    public static final int DEFAULT_RESTART_LIMIT = 10;
    public static final Duration DEFAULT_REQUEST_TIMEOUT = Duration.ofSeconds(30);

    /** The four recovery modes ublk accepts (see DESIGN.md, "ublk-style recovery"). */
    public enum Recovery {
        /** No USER_RECOVERY: a driver crash fails I/O and the LUN goes away. */
        NONE,
        /** USER_RECOVERY: in-flight requests fail, new ones wait. */
        QUEUE,
        /** USER_RECOVERY_REISSUE: in-flight requests are re-issued to the new driver. */
        REISSUE,
        /** USER_RECOVERY_FAIL_IO: in-flight and new requests fail until recovery. */
        FAIL_IO;

        /** The word used in the YAML: {@code none}, {@code queue}, {@code reissue}, {@code fail-io}. */
        public String yamlName() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }
    }

    public DriverConfig {
        command = List.copyOf(command);
        Objects.requireNonNull(recovery, "recovery");
        Objects.requireNonNull(restartBackoff, "restartBackoff");
        Objects.requireNonNull(requestTimeout, "requestTimeout");
    }
}
