package org.rtarget.backend.ublk;

import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The reference driver's I/O executor: a request that arrives while no other is in progress runs
 * right on the thread that read it, saving a hand-off to a pool thread (a wake-up, often on
 * another CPU) for every request at queue depth 1; while one is in progress the others go to the
 * pool, so slow storage still sees requests in parallel.
 */
public final class InlineWhenIdle implements Executor {
    private final Executor pool;
    private final AtomicInteger inProgress = new AtomicInteger();

    public InlineWhenIdle(Executor pool) {
        this.pool = pool;
    }

    @Override
    public void execute(Runnable task) {
        if (inProgress.getAndIncrement() == 0) {
            run(task);
        } else {
            pool.execute(() -> run(task));
        }
    }

    /** Requests running now (inline or on the pool). */
    int inProgress() {
        return inProgress.get();
    }

    private void run(Runnable task) {
        try {
            task.run();
        } finally {
            inProgress.decrementAndGet();
        }
    }
}
