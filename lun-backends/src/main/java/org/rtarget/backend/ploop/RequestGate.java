package org.rtarget.backend.ploop;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Counts the requests using one chain and decides whether new ones may start: the one shared atomic
 * a request touches on the way in and out.
 *
 * <ul>
 *   <li>{@link #hold}: new requests are turned away (the device parks them) and
 *       {@link #awaitIdle} waits for those inside to leave; a snapshot or merge switches then.
 *   <li>{@link #retire}: the chain is no longer current; when the last request inside leaves (at
 *       once if none is), the retire action runs, once (it releases the chain's files).
 * </ul>
 */
final class RequestGate {

    private static final int HELD = 1 << 30;
    private static final int RETIRED = 1 << 29;
    private static final int COUNT = RETIRED - 1;

    private final AtomicInteger state = new AtomicInteger();
    private final AtomicBoolean retireActionRan = new AtomicBoolean();
    private final Runnable onRetiredAndIdle;

    RequestGate(Runnable onRetiredAndIdle) {
        this.onRetiredAndIdle = onRetiredAndIdle;
    }

    /** Lets a request in, unless the chain is held or retired. */
    boolean tryEnter() {
        while (true) {
            int s = state.get();
            if ((s & (HELD | RETIRED)) != 0) {
                return false;
            }
            if (state.compareAndSet(s, s + 1)) {
                return true;
            }
        }
    }

    /** A request that entered is done. */
    void exit() {
        int s = state.decrementAndGet();
        if ((s & COUNT) == 0) {
            if ((s & RETIRED) != 0) {
                runRetireAction();
            }
            if ((s & HELD) != 0) {
                synchronized (this) {
                    notifyAll();
                }
            }
        }
    }

    void hold() {
        state.getAndUpdate(s -> s | HELD);
    }

    void resume() {
        state.getAndUpdate(s -> s & ~HELD);
    }

    boolean held() {
        return (state.get() & HELD) != 0;
    }

    /** Waits until no request is inside (call after {@link #hold}); false if that took longer than the timeout. */
    boolean awaitIdle(long timeout, TimeUnit unit) throws InterruptedException {
        long deadline = System.nanoTime() + unit.toNanos(timeout);
        synchronized (this) {
            while ((state.get() & COUNT) != 0) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                TimeUnit.NANOSECONDS.timedWait(this, left);
            }
        }
        return true;
    }

    void retire() {
        int s = state.updateAndGet(v -> v | RETIRED);
        if ((s & COUNT) == 0) {
            runRetireAction();
        }
    }

    private void runRetireAction() {
        if (retireActionRan.compareAndSet(false, true)) {
            onRetiredAndIdle.run();
        }
    }
}
