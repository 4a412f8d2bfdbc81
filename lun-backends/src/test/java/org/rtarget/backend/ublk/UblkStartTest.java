package org.rtarget.backend.ublk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.rtarget.backend.ublk.UblkTestSupport.KIB;
import static org.rtarget.backend.ublk.UblkTestSupport.MIB;
import static org.rtarget.backend.ublk.UblkTestSupport.pattern;
import static org.rtarget.backend.ublk.UblkTestSupport.readBack;
import static org.rtarget.backend.ublk.UblkTestSupport.readStore;
import static org.rtarget.backend.ublk.UblkTestSupport.waitForState;
import static org.rtarget.backend.ublk.UblkTestSupport.waitUntil;
import static org.rtarget.backend.ublk.UblkTestSupport.write;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.rtarget.backend.Errno;
import org.rtarget.backend.IoFailure;
import org.rtarget.backend.memory.MemoryDevice;
import org.rtarget.backend.ublk.UblkTestSupport.Events;
import org.rtarget.backend.ublk.UblkTestSupport.Io;

/** Starting a device (requests wait for START_DEV) and round trips through a driver. */
class UblkStartTest {

    private static final Duration LONG = Duration.ofSeconds(30);

    @TempDir
    Path dir;
    private UblkTestSupport t;

    @BeforeEach
    void setUp() {
        t = new UblkTestSupport(dir);
    }

    @AfterEach
    void tearDown() throws Exception {
        t.close();
    }

    @Test
    void describesItself() throws Exception {
        UblkDevice device = t.device(UblkRecovery.QUEUE, 2, 4, 64 * KIB, LONG);
        assertThat(device.size()).isEqualTo(8L * MIB);
        assertThat(device.blockSize()).isEqualTo(512);
        assertThat(device.kind()).isEqualTo("ublk");
        assertThat(device.thinProvisioned()).isTrue();
        assertThat(device.stateName()).isEqualTo("DEAD");
        assertThat(device.liveCount()).isZero();
        try (FakeDriver f = FakeDriver.connect(device.socketPath())) {
            assertThat(f.size).isEqualTo(8L * MIB);
            assertThat(f.blockSize).isEqualTo(512);
            assertThat(f.queues).isEqualTo(2);
            assertThat(f.queueDepth).isEqualTo(4);
            assertThat(f.maxIo).isEqualTo(64 * KIB);
            assertThat(f.flags).isEqualTo(UblkProtocol.F_USER_RECOVERY);
            assertThat(f.state).isEqualTo(UblkProtocol.S_DEAD);
            assertThat(f.shmSize).isEqualTo(8L * 64 * KIB);
        }
    }

    @ParameterizedTest
    @EnumSource(UblkRecovery.class)
    void storageIsLostAtAttachInRecoveryModesAndRecoveredWhenLive(UblkRecovery mode) throws Exception {
        UblkDevice device = t.device(mode, 1, 2, 4 * KIB, LONG);
        Events events = new Events();
        device.attach(events);
        assertThat(device.standbyCapable()).isEqualTo(mode.recovers());
        if (mode.recovers()) {
            assertThat(events.seen()).containsExactly("lost");
            assertThat(events.causes().get(0).kind()).isEqualTo(IoFailure.Kind.UNAVAILABLE);
        } else {
            assertThat(events.seen()).isEmpty();
        }
        t.fake(device).startReader().startDev();
        waitUntil("storageRecovered", () -> events.seen().contains("recovered"));
        assertThat(device.stateName()).isEqualTo("LIVE");
        assertThat(device.liveCount()).isEqualTo(1);
        assertThat(events.seen()).containsExactlyElementsOf(
                mode.recovers() ? List.of("lost", "recovered") : List.of("recovered"));
    }

    @Test
    void requestsWaitUntilEveryTagIsFetchedAndStartDevThenAreServed() throws Exception {
        UblkDevice device = t.device(UblkRecovery.QUEUE, 2, 2, 64 * KIB, LONG);
        Events events = new Events();
        device.attach(events);
        MemoryDevice store = new MemoryDevice(8L * MIB, 512);

        byte[] a = pattern(4 * KIB, 1);
        byte[] b = pattern(200 * KIB, 2); // four pieces
        byte[] c = pattern(512, 3);
        List<Io> early = new ArrayList<>();
        early.add(write(device, 0, a));
        early.add(write(device, MIB, b));
        early.add(write(device, 3 * MIB + 512, c));
        Io flush = new Io();
        device.flush(flush);
        early.add(flush);
        Thread.sleep(150);
        assertThat(early).noneMatch(Io::isDone);

        FakeDriver f = t.fake(device);
        assertThat(f.state).isEqualTo(UblkProtocol.S_DEAD);
        f.serve(store);
        f.fetchAllBut(3);
        assertThat(f.control(UblkProtocol.START_DEV)).as("START_DEV before every tag is fetched")
                .isEqualTo(-Errno.EAGAIN);
        Thread.sleep(100);
        assertThat(early).noneMatch(Io::isDone);
        assertThat(device.stateName()).isEqualTo("DEAD");
        assertThat(f.receivedCount()).isZero();

        f.fetch(1, 1);
        assertThat(f.control(UblkProtocol.START_DEV)).isZero();
        early.forEach(Io::awaitSuccess);
        assertThat(device.stateName()).isEqualTo("LIVE");
        assertThat(readStore(store, 0, a.length)).isEqualTo(a);
        assertThat(readStore(store, MIB, b.length)).isEqualTo(b);
        assertThat(readStore(store, 3 * MIB + 512, c.length)).isEqualTo(c);
        assertThat(f.receivedCount()).as("IO_CMDs: 1 + 4 + 1 + a flush").isEqualTo(7);
        waitUntil("storageRecovered", () -> events.seen().size() == 2);
        assertThat(events.seen()).containsExactly("lost", "recovered");
        assertThat(device.liveCount()).isEqualTo(1);
    }

    @Test
    void readsWritesFlushAndUnmapOfVariousSizesRoundTripThroughTheReferenceDriver() throws Exception {
        int maxIo = 64 * KIB;
        UblkDevice device = t.device(UblkRecovery.REISSUE, 2, 4, maxIo, LONG);
        MemoryDevice store = new MemoryDevice(8L * MIB, 512);
        t.reference(device, store);
        waitForState(device, "LIVE");

        int[] sizes = {512, 4 * KIB, maxIo - 512, maxIo, maxIo + 512, 3 * maxIo, MIB + 4 * KIB};
        long offset = 0;
        int seed = 10;
        for (int size : sizes) {
            byte[] data = pattern(size, seed++);
            write(device, offset, data).awaitSuccess();
            assertThat(readStore(store, offset, size)).as("store after a write of %d bytes", size).isEqualTo(data);
            assertThat(readBack(device, offset, size)).as("read of %d bytes (heap)", size).isEqualTo(data);
            // A direct buffer, filled from its position to its limit only.
            ByteBuffer direct = ByteBuffer.allocateDirect(size + 1024).position(512).limit(512 + size);
            UblkTestSupport.read(device, offset, direct).awaitSuccess();
            byte[] got = new byte[size];
            direct.get(512, got);
            assertThat(got).as("read of %d bytes (direct)", size).isEqualTo(data);
            direct.clear();
            assertThat(direct.get(0)).isZero();
            assertThat(direct.get(512 + size)).isZero();
            offset += size + 4096;
        }

        Io flush = new Io();
        device.flush(flush);
        flush.awaitSuccess();

        // Unmap across several max-io pieces: reads return zeros afterwards.
        long from = 512;
        int length = 5 * maxIo + 1024;
        Io unmap = new Io();
        device.unmap(from, length, unmap);
        unmap.awaitSuccess();
        assertThat(readBack(device, from, length)).containsOnly(0);
        assertThat(readStore(store, from, length)).containsOnly(0);
        assertThat(readBack(device, 0, 512)).as("the first sector is left alone")
                .isEqualTo(pattern(512, 10));
    }

    @Test
    void manyConcurrentSubmittersEachSeeTheirOwnData() throws Exception {
        int maxIo = 32 * KIB;
        UblkDevice device = t.device(UblkRecovery.QUEUE, 2, 4, maxIo, LONG);
        MemoryDevice store = new MemoryDevice(8L * MIB, 512);
        t.reference(device, store);
        waitForState(device, "LIVE");

        int threads = 8;
        int region = MIB;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                long base = (long) i * region;
                int seed = i;
                futures.add(pool.submit(() -> {
                    Random random = new Random(seed);
                    for (int round = 0; round < 30; round++) {
                        int size = (1 + random.nextInt(6 * maxIo / 512)) * 512;
                        long at = base + (long) random.nextInt((region - size) / 512) * 512;
                        byte[] data = pattern(size, random.nextLong());
                        // Several writes in flight at once from one thread too.
                        List<Io> writes = new ArrayList<>();
                        writes.add(write(device, at, data));
                        Io flush = new Io();
                        device.flush(flush);
                        writes.add(flush);
                        writes.forEach(Io::awaitSuccess);
                        assertThat(readBack(device, at, size)).isEqualTo(data);
                        if (round % 7 == 0) {
                            Io unmap = new Io();
                            device.unmap(at, size, unmap);
                            unmap.awaitSuccess();
                            assertThat(readBack(device, at, size)).containsOnly(0);
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : futures) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(device.stateName()).isEqualTo("LIVE");
    }

    /**
     * The reference driver expects the CTRL_REPLY to START_DEV before any IO_CMD: a request
     * submitted by another thread at the moment the device goes LIVE must not overtake it.
     */
    @Test
    void theStartReplyIsNotOvertakenByRequestsSubmittedMeanwhile() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            for (int round = 0; round < 60; round++) {
                UblkDevice device = t.device(UblkRecovery.QUEUE, 1, 2, 4 * KIB, LONG, MIB);
                FakeDriver f = t.fake(device);
                f.fetchAll();
                AtomicBoolean stop = new AtomicBoolean();
                java.util.concurrent.CountDownLatch running = new java.util.concurrent.CountDownLatch(3);
                List<Future<?>> submitters = new ArrayList<>();
                for (int i = 0; i < 3; i++) {
                    submitters.add(pool.submit(() -> {
                        int n = 0;
                        while (!stop.get()) {
                            device.flush(new Io());
                            if (++n == 50) {
                                running.countDown();
                            }
                        }
                        return null;
                    }));
                }
                running.await();
                int result = f.control(UblkProtocol.START_DEV); // read on this thread, in order
                stop.set(true);
                for (Future<?> s : submitters) {
                    s.get();
                }
                assertThat(result).isZero();
                assertThat(f.ioBeforeReply()).as("round %d: an IO_CMD came before the reply to START_DEV", round)
                        .isFalse();
                device.close();
                f.close();
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
