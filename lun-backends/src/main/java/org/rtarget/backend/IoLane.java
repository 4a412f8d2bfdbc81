package org.rtarget.backend;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A device's own share of the I/O threads: at most {@code limit} of its blocking requests run at
 * once, on threads of a pool shared by every device. A device whose storage hangs therefore ties up
 * at most {@code limit} threads, and the requests of every other device still find threads of their
 * own (one fixed pool for all would let a hung mount hold every thread).
 *
 * <p>A device that replaces its storage while requests hang on the old one takes a {@link #fresh}
 * lane, so the new storage is not queued behind them.
 */
public final class IoLane implements Executor {
    private static final Logger log = LoggerFactory.getLogger(IoLane.class);

    private final Executor threads;
    private final int limit;
    private final ConcurrentLinkedQueue<Runnable> waiting = new ConcurrentLinkedQueue<>();
    /** Threads working this lane's queue now. */
    private final AtomicInteger running = new AtomicInteger();

    /**
     * @param threads runs the lane's workers; should start a thread when none is idle (a cached
     *                pool), or a hung lane can still starve others
     * @param limit   at most this many of the lane's requests at once
     */
    public IoLane(Executor threads, int limit) {
        if (limit < 1) {
            throw new IllegalArgumentException("an I/O lane needs at least one thread, not " + limit);
        }
        this.threads = threads;
        this.limit = limit;
    }

    /** A new, empty lane on the same threads with the same limit. */
    public IoLane fresh() {
        return new IoLane(threads, limit);
    }

    public int limit() {
        return limit;
    }

    /**
     * Queues a request.
     *
     * @throws RejectedExecutionException if the threads refuse work (they were shut down) and the
     *     request will not run
     */
    /** Hands every request still waiting here to {@code other} (this lane's storage was replaced). */
    public void moveWaitingTo(IoLane other) {
        for (Runnable r; (r = waiting.poll()) != null; ) {
            other.execute(r);
        }
    }

    @Override
    public void execute(Runnable request) {
        waiting.add(request);
        try {
            startWorker();
        } catch (RejectedExecutionException e) {
            if (waiting.remove(request)) {
                throw e; // it will not run: the caller fails it
            }
            // a worker of this lane took it: it runs
        }
    }

    /** Starts one more worker if the limit allows and there is work for it. */
    private void startWorker() {
        while (true) {
            int n = running.get();
            if (n >= limit || waiting.isEmpty()) {
                return;
            }
            if (running.compareAndSet(n, n + 1)) {
                try {
                    threads.execute(this::work);
                } catch (RejectedExecutionException e) {
                    running.decrementAndGet();
                    throw e;
                }
                return;
            }
        }
    }

    /** A worker: runs queued requests until none is left. */
    private void work() {
        while (true) {
            Runnable request = waiting.poll();
            if (request == null) {
                running.decrementAndGet();
                // a request queued between the poll and the decrement must not be stranded
                if (!waiting.isEmpty()) {
                    try {
                        startWorker();
                    } catch (RejectedExecutionException e) {
                        log.debug("I/O threads shut down with requests queued");
                    }
                }
                return;
            }
            try {
                request.run();
            } catch (RuntimeException e) {
                log.error("an I/O request threw", e);
            }
        }
    }
}
