package org.rtarget.backend.ublk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.rtarget.backend.IoCallback;
import org.rtarget.backend.IoFailure;
import org.rtarget.backend.StorageEvents;
import org.rtarget.backend.memory.MemoryDevice;
import org.slf4j.LoggerFactory;

/** Devices, drivers, callbacks and waits the ublk tests share; it closes what it opened. */
final class UblkTestSupport implements AutoCloseable {

    static final int KIB = 1024;
    static final int MIB = 1024 * 1024;

    private final Path dir;
    private final List<AutoCloseable> toClose = new ArrayList<>();
    private final List<ReferenceDriver> references = new ArrayList<>();
    private int counter;

    UblkTestSupport(Path dir) {
        this.dir = dir;
    }

    /** A device with its socket and data file in the test's directory (short paths). */
    UblkDevice device(UblkRecovery recovery, int queues, int depth, int maxIo, Duration timeout) throws IOException {
        return device(recovery, queues, depth, maxIo, timeout, 8L * MIB);
    }

    UblkDevice device(UblkRecovery recovery, int queues, int depth, int maxIo, Duration timeout, long size)
            throws IOException {
        String name = "d" + counter++;
        UblkDevice device = UblkDevice.create(name, new UblkParams(size, 512, queues, depth, maxIo, recovery, timeout),
                dir.resolve(name + ".sock"), dir);
        toClose.add(device);
        return device;
    }

    FakeDriver fake(UblkDevice device) throws IOException {
        FakeDriver driver = FakeDriver.connect(device.socketPath());
        toClose.add(driver);
        return driver;
    }

    /** The reference driver, in process on a thread of its own, serving from {@code store}. */
    ReferenceDriver reference(UblkDevice device, MemoryDevice store) {
        ReferenceDriver r = new ReferenceDriver(device.socketPath(), store);
        references.add(r);
        return r;
    }

    static final class ReferenceDriver {
        final CompletableFuture<Integer> exit = new CompletableFuture<>();
        private final ByteArrayOutputStream output = new ByteArrayOutputStream();

        ReferenceDriver(Path socket, MemoryDevice store) {
            PrintStream out = new PrintStream(output, true, StandardCharsets.UTF_8);
            Thread t = new Thread(() -> {
                try {
                    exit.complete(UblkDriver.run(socket, (size, bs) -> store, UblkDriver.CrashSwitch.NEVER, out));
                } catch (Throwable e) {
                    exit.completeExceptionally(e);
                }
            }, "reference-ublk-driver");
            t.setDaemon(true);
            t.start();
        }

        String output() {
            synchronized (output) {
                return output.toString(StandardCharsets.UTF_8);
            }
        }
    }

    @Override
    public void close() throws Exception {
        for (int i = toClose.size() - 1; i >= 0; i--) {
            toClose.get(i).close();
        }
        for (ReferenceDriver r : references) {
            // The device closed the connection: the driver ends.
            try {
                r.exit.get(5, TimeUnit.SECONDS);
            } catch (java.util.concurrent.ExecutionException e) {
                // it failed: the test says whether that mattered
            }
        }
    }

    // ----- I/O -----

    /** One callback: records how and when the I/O completed, and how often. */
    static final class Io implements IoCallback {
        final long submitted = System.nanoTime();
        private final CountDownLatch done = new CountDownLatch(1);
        private final AtomicInteger calls = new AtomicInteger();
        private volatile IoFailure failure;
        private volatile long completedAt;

        @Override
        public void completed() {
            finish(null);
        }

        @Override
        public void failed(IoFailure f) {
            finish(f);
        }

        private void finish(IoFailure f) {
            failure = f;
            completedAt = System.nanoTime();
            calls.incrementAndGet();
            done.countDown();
        }

        boolean isDone() {
            return done.getCount() == 0;
        }

        int calls() {
            return calls.get();
        }

        IoFailure failure() {
            return failure;
        }

        /** Time from submission to completion. */
        Duration took() {
            return Duration.ofNanos(completedAt - submitted);
        }

        IoFailure await() {
            try {
                if (!done.await(10, TimeUnit.SECONDS)) {
                    fail("I/O did not complete within 10 s");
                }
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
            assertThat(calls.get()).as("callback invocations").isEqualTo(1);
            return failure;
        }

        void awaitSuccess() {
            assertThat(await()).as("I/O failure").isNull();
        }

        IoFailure awaitFailure() {
            IoFailure f = await();
            assertThat(f).as("I/O failure").isNotNull();
            return f;
        }
    }

    static Io write(UblkDevice device, long offset, byte[] data) {
        Io io = new Io();
        device.write(offset, ByteBuffer.wrap(data), io);
        return io;
    }

    static Io read(UblkDevice device, long offset, ByteBuffer dst) {
        Io io = new Io();
        device.read(offset, dst, io);
        return io;
    }

    static byte[] readBack(UblkDevice device, long offset, int length) {
        ByteBuffer dst = ByteBuffer.allocate(length);
        read(device, offset, dst).awaitSuccess();
        return dst.array();
    }

    static byte[] readStore(MemoryDevice store, long offset, int length) {
        ByteBuffer dst = ByteBuffer.allocate(length);
        Io io = new Io();
        store.read(offset, dst, io);
        io.awaitSuccess();
        return dst.array();
    }

    static byte[] pattern(int length, long seed) {
        byte[] b = new byte[length];
        new Random(seed).nextBytes(b);
        return b;
    }

    // ----- storage events -----

    /** Records storageLost / storageRecovered in order. */
    static final class Events implements StorageEvents {
        private final List<String> seen = new ArrayList<>();
        private final List<IoFailure> causes = new ArrayList<>();

        @Override
        public synchronized void storageRecovered() {
            seen.add("recovered");
        }

        @Override
        public synchronized void storageLost(IoFailure cause) {
            seen.add("lost");
            causes.add(cause);
        }

        synchronized List<String> seen() {
            return List.copyOf(seen);
        }

        synchronized List<IoFailure> causes() {
            return List.copyOf(causes);
        }
    }

    // ----- waiting -----

    static void waitUntil(String what, BooleanSupplier condition) {
        waitUntil(what, condition, Duration.ofSeconds(5));
    }

    static void waitUntil(String what, BooleanSupplier condition, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                fail("timed out waiting for: " + what);
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }
    }

    static void waitForState(UblkDevice device, String state) {
        waitUntil("state " + state + " (is " + device.stateName() + ")", () -> device.stateName().equals(state));
    }

    // ----- logs -----

    /** Captures what UblkDevice logs, until closed. */
    static final class Logs implements AutoCloseable {
        private final Logger logger = (Logger) LoggerFactory.getLogger(UblkDevice.class);
        private final ListAppender<ILoggingEvent> appender = new ListAppender<>();

        Logs() {
            appender.start();
            logger.addAppender(appender);
        }

        List<String> messages() {
            synchronized (appender) {
                return new ArrayList<>(appender.list).stream().map(e -> e.getLevel() + " " + e.getFormattedMessage()).toList();
            }
        }

        @Override
        public void close() {
            logger.detachAppender(appender);
        }
    }
}
