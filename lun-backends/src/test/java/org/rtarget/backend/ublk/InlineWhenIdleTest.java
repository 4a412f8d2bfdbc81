package org.rtarget.backend.ublk;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class InlineWhenIdleTest {
    private final ExecutorService pool = Executors.newFixedThreadPool(2, r -> new Thread(r, "pool"));

    @AfterEach
    void tearDown() {
        pool.shutdownNow();
    }

    @Test
    void aRequestAloneRunsOnTheCallersThreadAndOneArrivingMeanwhileGoesToThePool() throws Exception {
        InlineWhenIdle executor = new InlineWhenIdle(pool);
        AtomicReference<String> first = new AtomicReference<>();
        executor.execute(() -> first.set(Thread.currentThread().getName()));
        assertThat(first.get()).isEqualTo(Thread.currentThread().getName());

        // A slow request in progress on another caller: the next one must not wait behind it.
        CountDownLatch slowStarted = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Thread reader = Thread.ofPlatform().name("reader").start(() -> executor.execute(() -> {
            slowStarted.countDown();
            await(release);
        }));
        assertThat(slowStarted.await(5, TimeUnit.SECONDS)).isTrue();
        AtomicReference<String> second = new AtomicReference<>();
        CountDownLatch secondDone = new CountDownLatch(1);
        executor.execute(() -> {
            second.set(Thread.currentThread().getName());
            secondDone.countDown();
        });
        assertThat(secondDone.await(5, TimeUnit.SECONDS)).as("ran while the slow one was in progress").isTrue();
        assertThat(second.get()).isEqualTo("pool");
        release.countDown();
        reader.join(5000);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (executor.inProgress() > 0) { // the pool thread finishes its bookkeeping after the task
            assertThat(System.nanoTime()).isLessThan(deadline);
            Thread.sleep(1);
        }

        // Idle again: inline again.
        AtomicReference<String> third = new AtomicReference<>();
        executor.execute(() -> third.set(Thread.currentThread().getName()));
        assertThat(third.get()).isEqualTo(Thread.currentThread().getName());
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
