package org.rtarget.server.iscsi;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Waits for every command a task management function aborts (on any connection) to be gone, then
 * runs the response. Starts with one hold for the issuer, released by {@link #arm()}.
 */
final class AbortBarrier {
    private final AtomicInteger pending = new AtomicInteger(1);
    private final Runnable whenDone;

    AbortBarrier(Runnable whenDone) {
        this.whenDone = whenDone;
    }

    void hold() {
        pending.incrementAndGet();
    }

    void release() {
        if (pending.decrementAndGet() == 0) {
            whenDone.run();
        }
    }

    /** The issuer has handed out every hold it will. */
    void arm() {
        release();
    }
}
