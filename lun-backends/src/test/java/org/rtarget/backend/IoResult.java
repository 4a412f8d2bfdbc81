package org.rtarget.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** A callback a test waits on; checks it was completed exactly once. */
public final class IoResult implements IoCallback {

    private final CountDownLatch done = new CountDownLatch(1);
    private final AtomicInteger calls = new AtomicInteger();
    private volatile IoFailure failure;
    private volatile Thread completedOn;

    @Override
    public void completed() {
        completedOn = Thread.currentThread();
        calls.incrementAndGet();
        done.countDown();
    }

    @Override
    public void failed(IoFailure failure) {
        this.failure = failure;
        completedOn = Thread.currentThread();
        calls.incrementAndGet();
        done.countDown();
    }

    /** Whether the I/O has completed (either way). */
    public boolean isDone() {
        return done.getCount() == 0;
    }

    /** Waits for completion; the failure, or null on success. */
    public IoFailure await() {
        try {
            if (!done.await(10, TimeUnit.SECONDS)) {
                fail("I/O did not complete within 10 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
        assertThat(calls.get()).as("callback invocations").isEqualTo(1);
        return failure;
    }

    /** Waits and asserts success. */
    public void awaitSuccess() {
        IoFailure f = await();
        assertThat(f).as("I/O failure").isNull();
    }

    /** Waits and asserts failure. */
    public IoFailure awaitFailure() {
        IoFailure f = await();
        assertThat(f).as("I/O failure").isNotNull();
        return f;
    }

    public Thread completedOn() {
        return completedOn;
    }
}
