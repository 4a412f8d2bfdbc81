package org.rtarget.backend.ublk;

import java.time.Duration;

/**
 * The device parameters a ublk LUN is created with (what ublk's ADD_DEV carries).
 *
 * @param size           bytes
 * @param blockSize      logical block size
 * @param queues         hardware queues (each with {@code queueDepth} tags)
 * @param queueDepth     tags per queue
 * @param maxIoBytes     the largest request handed to the driver (bigger ones are split)
 * @param recovery       what a crash does
 * @param requestTimeout the per-request watchdog
 */
public record UblkParams(long size, int blockSize, int queues, int queueDepth, int maxIoBytes,
                         UblkRecovery recovery, Duration requestTimeout) {

    public static final int DEFAULT_QUEUE_DEPTH = 64;
    public static final int DEFAULT_MAX_IO = 1 << 20;

    public int tags() {
        return queues * queueDepth;
    }

    public long sharedMemorySize() {
        return (long) tags() * maxIoBytes;
    }
}
