package org.rtarget.backend.ploop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.rtarget.backend.ploop.PloopTesting.CLUSTER;
import static org.rtarget.backend.ploop.PloopTesting.MIB;
import static org.rtarget.backend.ploop.PloopTesting.filled;
import static org.rtarget.backend.ploop.PloopTesting.flush;
import static org.rtarget.backend.ploop.PloopTesting.random;
import static org.rtarget.backend.ploop.PloopTesting.read;
import static org.rtarget.backend.ploop.PloopTesting.unmap;
import static org.rtarget.backend.ploop.PloopTesting.write;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.rtarget.backend.IoFailure;
import org.rtarget.backend.IoResult;

/** Snapshot, merge and top replacement on a device that keeps serving I/O. */
@Timeout(120)
class PloopLiveOperationsTest {

    private static final long SIZE = 8L * MIB; // 128 clusters of 64 KiB

    @TempDir
    Path dir;

    private final ExecutorService io = Executors.newFixedThreadPool(8, r -> new Thread(r, "ploop-io"));
    private final List<PloopDevice> opened = new ArrayList<>();

    @AfterEach
    void tearDown() throws InterruptedException {
        opened.forEach(PloopDevice::close);
        io.shutdownNow();
        io.awaitTermination(5, TimeUnit.SECONDS);
    }

    private PloopDevice open(List<Path> chain) throws IOException {
        PloopDevice device = PloopDevice.open(chain, false, io);
        opened.add(device);
        return device;
    }

    /** A base with random data in every third cluster. */
    private Path seededBase() throws IOException {
        Path base = dir.resolve("base.hdd");
        PloopImage.create(base, SIZE, CLUSTER);
        try (PloopDevice device = PloopDevice.open(List.of(base), false, io)) {
            for (int c = 0; c < SIZE / CLUSTER; c += 3) {
                write(device, (long) c * CLUSTER, random(CLUSTER, c));
            }
        }
        return base;
    }

    @Test
    void aSnapshotWhileWritersRunLosesNoWrite() throws Exception {
        Path base = seededBase();
        PloopDevice device = open(List.of(base));
        Writers writers = new Writers(device, read(device, 0, (int) SIZE), 4);
        writers.start();

        Path first = dir.resolve("snap1.hdd");
        Path second = dir.resolve("snap2.hdd");
        writers.awaitMoreWrites(50);
        device.snapshot(first);
        writers.awaitMoreWrites(50);
        device.snapshot(second);
        writers.awaitMoreWrites(50);
        writers.stop();

        assertThat(device.deltas()).containsExactly(base, first, second);
        assertThat(read(device, 0, (int) SIZE)).as("every acknowledged write, through the new chain").isEqualTo(writers.expected);
        assertThat(PloopImage.info(base).inUse()).as("a frozen level is closed").isFalse();
        assertThat(PloopImage.info(first).inUse()).isFalse();
        assertThat(PloopImage.info(second).inUse()).as("the new top is open").isTrue();
        assertThat(PloopImage.info(first).allocatedClusters()).as("writes between the snapshots went to snap1").isPositive();

        device.close();
        assertThat(PloopImage.check(base, false).findings()).isEmpty();
        assertThat(PloopImage.check(first, false).findings()).isEmpty();
        assertThat(PloopImage.check(second, false).findings()).isEmpty();
        PloopDevice reopened = open(List.of(base, first, second));
        assertThat(read(reopened, 0, (int) SIZE)).as("after reopening the chain").isEqualTo(writers.expected);
    }

    @Test
    void aSnapshotOntoAnExistingFileIsRefusedAndChangesNothing() throws Exception {
        Path base = seededBase();
        PloopDevice device = open(List.of(base));
        Path taken = Files.writeString(dir.resolve("taken.hdd"), "not an image");
        assertThatThrownBy(() -> device.snapshot(taken)).isInstanceOf(FileAlreadyExistsException.class);
        assertThat(Files.readString(taken)).isEqualTo("not an image");
        assertThat(device.deltas()).containsExactly(base);
        write(device, 0, filled(4096, 9));
        assertThat(read(device, 0, 4096)).containsOnly(9);
    }

    @Test
    void mergeKeepsTheViewOfTheChainExactly() throws Exception {
        Path base = seededBase();
        Path middle = dir.resolve("middle.hdd");
        Path top = dir.resolve("top.hdd");
        PloopImage.snapshot(List.of(base), middle);
        byte[] view;
        try (PloopDevice device = PloopDevice.open(List.of(base, middle), false, io)) {
            for (int c = 1; c < SIZE / CLUSTER; c += 4) {
                write(device, (long) c * CLUSTER + 512, random(CLUSTER / 2, 1000 + c));
            }
            device.snapshot(top);
            for (int c = 0; c < SIZE / CLUSTER; c += 5) {
                write(device, (long) c * CLUSTER + 4096, random(8192, 2000 + c));
            }
            unmap(device, 20L * CLUSTER, CLUSTER);
            view = read(device, 0, (int) SIZE);
        }

        List<long[]> progress = new ArrayList<>();
        Path removed = PloopImage.merge(List.of(base, middle, top), (done, total) -> progress.add(new long[] {done, total}));

        assertThat(removed).isEqualTo(top);
        assertThat(Files.exists(top)).as("the merged delta is left on disk").isTrue();
        assertThat(PloopImage.info(top).inUse()).isFalse();
        assertThat(PloopImage.info(middle).inUse()).isFalse();
        assertThat(progress).isNotEmpty();
        assertThat(progress.getLast()[0]).isEqualTo(progress.getLast()[1]);
        assertThat(progress.getLast()[0]).isEqualTo(PloopImage.info(top).allocatedClusters());
        assertThat(PloopImage.check(middle, false).findings()).isEmpty();

        PloopDevice merged = open(List.of(base, middle));
        assertThat(read(merged, 0, (int) SIZE)).isEqualTo(view);
    }

    @Test
    void aMergeWhileWritersRunLosesNoWrite() throws Exception {
        Path base = seededBase();
        Path top = dir.resolve("top.hdd");
        PloopImage.snapshot(List.of(base), top);
        PloopDevice device = open(List.of(base, top));
        for (int c = 0; c < SIZE / CLUSTER; c += 2) {
            write(device, (long) c * CLUSTER, random(CLUSTER, 3000 + c)); // 64 clusters for the merge to copy
        }
        Writers writers = new Writers(device, read(device, 0, (int) SIZE), 4);
        writers.start();
        writers.awaitMoreWrites(20);

        List<long[]> progress = new CopyOnWriteArrayList<>();
        long writesBefore = writers.count.get();
        Path removed = device.mergeTop((done, total) -> progress.add(new long[] {done, total}));
        long writesDuring = writers.count.get() - writesBefore;
        writers.awaitMoreWrites(20);
        writers.stop();

        assertThat(removed).isEqualTo(top);
        assertThat(device.deltas()).containsExactly(base);
        assertThat(writesDuring).as("writers kept going during the merge").isPositive();
        assertThat(progress.getLast()[0]).isEqualTo(progress.getLast()[1]);
        assertThat(progress.getLast()[0]).isGreaterThanOrEqualTo(64);
        assertThat(read(device, 0, (int) SIZE)).as("every acknowledged write").isEqualTo(writers.expected);
        assertThat(PloopImage.info(base).inUse()).as("the base is the open top now").isTrue();
        assertThat(PloopImage.info(top).inUse()).as("the merged delta was closed").isFalse();

        device.close();
        assertThat(PloopImage.check(base, false).findings()).isEmpty();
        PloopDevice reopened = open(List.of(base));
        assertThat(read(reopened, 0, (int) SIZE)).as("the base alone, reopened").isEqualTo(writers.expected);
    }

    @Test
    void aMergeCancelledByCloseTakesBackWhatItAddedToTheLowerDelta() throws Exception {
        Path base = seededBase(); // holds every third cluster
        Path top = dir.resolve("top.hdd");
        PloopImage.snapshot(List.of(base), top);
        PloopDevice device = PloopDevice.open(List.of(base, top), false, io);
        int topClusters = 0;
        for (int c = 0; c < 60; c++) {
            if (c % 3 != 0) {
                write(device, (long) c * CLUSTER, random(CLUSTER, 4000 + c)); // clusters the base does not hold
                topClusters++;
            }
        }
        byte[] view = read(device, 0, (int) SIZE);
        long baseClusters = PloopImage.info(base).allocatedClusters();
        int lastOfFirstPass = topClusters;

        Thread[] closer = new Thread[1];
        assertThatThrownBy(() -> device.mergeTop((done, total) -> {
            if (done == lastOfFirstPass && closer[0] == null) {
                closer[0] = new Thread(device::close, "closer");
                closer[0].start();
                awaitBlocked(closer[0]); // close() has asked the merge to stop and waits for it
            }
        })).isInstanceOf(IOException.class).hasMessageContaining("cancelled");
        closer[0].join(10_000);
        assertThat(device.deltas()).as("closed").isEmpty();

        assertThat(PloopImage.info(base).allocatedClusters()).as("the base maps what it mapped before").isEqualTo(baseClusters);
        assertThat(PloopImage.info(base).inUse()).isFalse();
        assertThat(PloopImage.info(top).inUse()).isFalse();
        assertThat(PloopImage.check(base, false).findings()).isEmpty();
        PloopDevice reopened = open(List.of(base, top));
        assertThat(read(reopened, 0, (int) SIZE)).isEqualTo(view);
    }

    private static void awaitBlocked(Thread thread) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (thread.getState() != Thread.State.WAITING && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        assertThat(thread.getState()).isEqualTo(Thread.State.WAITING);
    }

    @Test
    void snapshotsAndMergesUnderWritersAndUnmapsLoseNothing() throws Exception {
        for (int round = 0; round < 5; round++) {
            Path roundDir = Files.createDirectory(dir.resolve("round" + round));
            Path base = roundDir.resolve("base.hdd");
            PloopImage.create(base, SIZE, CLUSTER);
            PloopDevice device = open(List.of(base));
            for (int c = 0; c < SIZE / CLUSTER; c += 3) {
                write(device, (long) c * CLUSTER, random(CLUSTER, round * 1000 + c));
            }
            Writers writers = new Writers(device, read(device, 0, (int) SIZE), 4).withUnmaps();
            writers.start();
            List<Path> chain = new ArrayList<>(List.of(base));
            for (int step = 0; step < 4; step++) {
                writers.awaitMoreWrites(30);
                if (step % 2 == 0) {
                    Path snapshot = roundDir.resolve("snap" + step + ".hdd");
                    device.snapshot(snapshot);
                    chain.add(snapshot);
                } else {
                    chain.remove(device.mergeTop(Progress.NONE));
                }
                assertThat(device.deltas()).isEqualTo(chain);
            }
            writers.awaitMoreWrites(30);
            writers.stop();

            assertThat(read(device, 0, (int) SIZE)).as("round %d", round).isEqualTo(writers.expected);
            device.close();
            for (Path delta : chain) {
                assertThat(PloopImage.check(delta, false).findings()).as("%s", delta).isEmpty();
            }
            PloopDevice reopened = open(chain);
            assertThat(read(reopened, 0, (int) SIZE)).as("round %d reopened", round).isEqualTo(writers.expected);
            reopened.close();
        }
    }

    @Test
    void replaceTopDeltaSwitchesToACopyOfTheTopAndSignalsRecovery() throws Exception {
        Path base = seededBase();
        Path top = dir.resolve("top.hdd");
        PloopImage.snapshot(List.of(base), top);
        PloopDevice device = open(List.of(base, top));
        AtomicInteger recovered = new AtomicInteger();
        device.attach(recovered::incrementAndGet);
        write(device, 5L * CLUSTER, filled(CLUSTER, 0x55));
        flush(device);
        byte[] view = read(device, 0, (int) SIZE);

        Path copy = Files.copy(top, dir.resolve("top-copy.hdd"));
        device.replaceTopDelta(copy);

        assertThat(recovered.get()).isEqualTo(1);
        assertThat(device.deltas()).containsExactly(base, copy);
        assertThat(read(device, 0, (int) SIZE)).isEqualTo(view);
        assertThat(PloopImage.info(top).inUse()).as("the replaced top is marked closed").isFalse();
        assertThat(PloopImage.info(copy).inUse()).isTrue();

        write(device, 9L * CLUSTER, filled(CLUSTER, 0x99));
        device.close();
        assertThat(PloopImage.info(copy).allocatedClusters()).as("new writes go to the new top").isEqualTo(2);
        assertThat(PloopImage.info(top).allocatedClusters()).isEqualTo(1);
    }

    @Test
    void recoverWithoutAReplacementReopensTheSameChain() throws Exception {
        Path base = seededBase();
        Path top = dir.resolve("top.hdd");
        PloopImage.snapshot(List.of(base), top);
        PloopDevice device = open(List.of(base, top));
        AtomicInteger recovered = new AtomicInteger();
        device.attach(recovered::incrementAndGet);
        write(device, 0, filled(4096, 1));

        device.recover(null);

        assertThat(recovered.get()).isEqualTo(1);
        assertThat(device.deltas()).containsExactly(base, top);
        assertThat(PloopImage.info(top).inUse()).as("still the open top").isTrue();
        assertThat(read(device, 0, 4096)).containsOnly(1);
        write(device, 4096, filled(4096, 2));
        assertThat(read(device, 0, 8192)).startsWith(filled(4096, 1)).endsWith(filled(4096, 2));
    }

    @Test
    void aReplacementThatDoesNotFitIsRefusedAndTheDeviceKeepsServing() throws Exception {
        Path base = seededBase();
        Path top = dir.resolve("top.hdd");
        PloopImage.snapshot(List.of(base), top);
        PloopDevice device = open(List.of(base, top));
        AtomicInteger recovered = new AtomicInteger();
        device.attach(recovered::incrementAndGet);
        write(device, 0, filled(4096, 7));

        Path coarse = dir.resolve("coarse.hdd");
        PloopImage.create(coarse, SIZE, 2 * CLUSTER);
        assertThatThrownBy(() -> device.replaceTopDelta(coarse)).isInstanceOf(PloopFormatException.class)
                .hasMessageContaining("coarse.hdd").hasMessageContaining("cluster size");
        Path smaller = dir.resolve("smaller.hdd");
        PloopImage.create(smaller, SIZE - CLUSTER, CLUSTER);
        assertThatThrownBy(() -> device.replaceTopDelta(smaller)).isInstanceOf(PloopFormatException.class)
                .hasMessageContaining("smaller.hdd").hasMessageContaining("virtual size");
        assertThatThrownBy(() -> device.recover(dir.resolve("nowhere.hdd"))).isInstanceOf(PloopFormatException.class)
                .hasMessageContaining("nowhere.hdd").hasMessageContaining("does not exist");

        assertThat(recovered.get()).isZero();
        assertThat(device.deltas()).containsExactly(base, top);
        assertThat(PloopImage.info(coarse).inUse()).isFalse();
        assertThat(read(device, 0, 4096)).containsOnly(7);
        write(device, 4096, filled(4096, 8));
        assertThat(read(device, 4096, 4096)).containsOnly(8);
    }

    /**
     * Writer threads, each in its own slice of the device, writing blocks of 4 to 16 KiB at random
     * places and recording every acknowledged write in {@link #expected}.
     */
    private static final class Writers {
        final byte[] expected;
        final AtomicLong count = new AtomicLong();
        private final PloopDevice device;
        private final int threads;
        private final AtomicBoolean running = new AtomicBoolean(true);
        private final List<Thread> started = new ArrayList<>();
        private final List<Throwable> failures = new CopyOnWriteArrayList<>();
        private boolean unmaps;

        Writers(PloopDevice device, byte[] initial, int threads) {
            this.device = device;
            this.expected = initial;
            this.threads = threads;
        }

        /** Also unmaps: whole clusters and parts of them, one operation in eight. */
        Writers withUnmaps() {
            unmaps = true;
            return this;
        }

        void start() {
            int slice = expected.length / threads;
            for (int t = 0; t < threads; t++) {
                int from = t * slice;
                long seed = t;
                Thread thread = new Thread(() -> run(from, slice, seed), "writer-" + t);
                thread.start();
                started.add(thread);
            }
        }

        private void run(int from, int slice, long seed) {
            Random random = new Random(seed);
            try {
                while (running.get()) {
                    if (unmaps && random.nextInt(8) == 0) {
                        unmapSome(random, from, slice);
                    } else {
                        writeSome(random, from, slice);
                    }
                    count.incrementAndGet();
                }
            } catch (Throwable e) {
                failures.add(e);
            }
        }

        private void writeSome(Random random, int from, int slice) {
            int length = 4096 * (1 + random.nextInt(4));
            int offset = from + 512 * random.nextInt((slice - length) / 512);
            byte[] data = new byte[length];
            random.nextBytes(data);
            IoResult result = new IoResult();
            device.write(offset, ByteBuffer.allocateDirect(length).put(data).flip(), result);
            IoFailure failure = result.await();
            if (failure != null) {
                throw new AssertionError("write at " + offset + " failed: " + failure);
            }
            System.arraycopy(data, 0, expected, offset, length);
        }

        private void unmapSome(Random random, int from, int slice) {
            long offset = from + (long) CLUSTER * random.nextInt(slice / CLUSTER);
            int length = CLUSTER;
            if (random.nextBoolean()) {
                offset += 512 * random.nextInt(64);
                length = 4096;
            }
            IoResult result = new IoResult();
            device.unmap(offset, length, result);
            IoFailure failure = result.await();
            if (failure != null) {
                throw new AssertionError("unmap at " + offset + " failed: " + failure);
            }
            java.util.Arrays.fill(expected, (int) offset, (int) offset + length, (byte) 0);
        }

        void awaitMoreWrites(int n) throws InterruptedException {
            long target = count.get() + n;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (count.get() < target && failures.isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(1);
            }
            assertThat(failures).isEmpty();
            assertThat(count.get()).as("writes made").isGreaterThanOrEqualTo(target);
        }

        void stop() throws InterruptedException {
            running.set(false);
            for (Thread t : started) {
                t.join();
            }
            assertThat(failures).isEmpty();
        }
    }
}
