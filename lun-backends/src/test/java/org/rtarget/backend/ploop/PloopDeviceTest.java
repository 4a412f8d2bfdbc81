package org.rtarget.backend.ploop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.rtarget.backend.ploop.PloopTesting.CLUSTER;
import static org.rtarget.backend.ploop.PloopTesting.KIB;
import static org.rtarget.backend.ploop.PloopTesting.MIB;
import static org.rtarget.backend.ploop.PloopTesting.extent;
import static org.rtarget.backend.ploop.PloopTesting.filled;
import static org.rtarget.backend.ploop.PloopTesting.flush;
import static org.rtarget.backend.ploop.PloopTesting.random;
import static org.rtarget.backend.ploop.PloopTesting.read;
import static org.rtarget.backend.ploop.PloopTesting.unmap;
import static org.rtarget.backend.ploop.PloopTesting.write;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.rtarget.backend.IoFailure;
import org.rtarget.backend.IoResult;

@Timeout(60)
class PloopDeviceTest {

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

    private PloopDevice open(Path... chain) throws IOException {
        PloopDevice device = PloopDevice.open(List.of(chain), false, io);
        opened.add(device);
        return device;
    }

    private Path image(String name, long size) throws IOException {
        Path path = dir.resolve(name);
        PloopImage.create(path, size, CLUSTER);
        return path;
    }

    @Test
    void writesReadBackAcrossClustersAndAfterReopening() throws IOException {
        Path disk = image("disk.hdd", 4L * MIB);
        PloopDevice device = open(disk);
        assertThat(device.kind()).isEqualTo("ploop");
        assertThat(device.size()).isEqualTo(4L * MIB);
        assertThat(device.blockSize()).isEqualTo(512);
        assertThat(device.standbyCapable()).isTrue();
        assertThat(device.thinProvisioned()).isTrue();
        assertThat(device.unmapGranularity()).isEqualTo(CLUSTER);
        assertThat(PloopImage.info(disk).inUse()).as("in-use mark while open").isTrue();

        byte[] data = random(100 * KIB, 1); // spans three clusters
        write(device, 30 * KIB, data);
        assertThat(read(device, 30 * KIB, data.length)).isEqualTo(data);
        assertThat(read(device, 2 * MIB, 4096)).as("never written").containsOnly(0);

        ByteBuffer heap = ByteBuffer.allocate(4096);
        IoResult heapRead = new IoResult();
        device.read(30 * KIB, heap, heapRead);
        heapRead.awaitSuccess();
        assertThat(heap.array()).isEqualTo(Arrays.copyOf(data, 4096));

        device.close();
        ImageInfo info = PloopImage.info(disk);
        assertThat(info.inUse()).as("in-use mark after a clean close").isFalse();
        assertThat(info.allocatedClusters()).isEqualTo(3);
        assertThat(info.fileSize()).isEqualTo(4L * CLUSTER);

        PloopDevice again = open(disk);
        assertThat(read(again, 30 * KIB, data.length)).isEqualTo(data);
    }

    @Test
    void readsFallThroughToTheLowestDeltaThatHoldsACluster() throws IOException {
        Path base = image("base.hdd", 1L * MIB);
        PloopDevice device = open(base);
        write(device, 0, filled(CLUSTER, 'A'));
        write(device, CLUSTER, filled(CLUSTER, 'B'));
        device.close();

        Path middle = dir.resolve("middle.hdd");
        assertThat(PloopImage.snapshot(List.of(base), middle)).containsExactly(base, middle);
        device = open(base, middle);
        write(device, CLUSTER, filled(CLUSTER, 'C'));
        write(device, 2 * CLUSTER, filled(CLUSTER, 'D'));
        device.close();

        Path top = dir.resolve("top.hdd");
        PloopImage.snapshot(List.of(base, middle), top);
        device = open(base, middle, top);
        assertThat(device.deltas()).containsExactly(base, middle, top);
        assertThat(read(device, 0, CLUSTER)).as("from the base").containsOnly('A');
        assertThat(read(device, CLUSTER, CLUSTER)).as("from the middle, over the base").containsOnly('C');
        assertThat(read(device, 2 * CLUSTER, CLUSTER)).as("from the middle").containsOnly('D');
        assertThat(read(device, 3 * CLUSTER, CLUSTER)).as("nowhere: zeros").containsOnly(0);
        byte[] across = read(device, CLUSTER - 10, 20 + 2 * CLUSTER);
        assertThat(Arrays.copyOfRange(across, 0, 10)).containsOnly('A');
        assertThat(Arrays.copyOfRange(across, 10, 10 + CLUSTER)).containsOnly('C');
        assertThat(Arrays.copyOfRange(across, 10 + CLUSTER, 10 + 2 * CLUSTER)).containsOnly('D');
        assertThat(PloopImage.info(top).allocatedClusters()).as("reads allocate nothing").isZero();
    }

    @Test
    void aWriteToAClusterHeldBelowCopiesTheRestOfTheClusterIntoTheTop() throws IOException {
        Path base = image("base.hdd", 1L * MIB);
        byte[] original = random(CLUSTER, 2);
        PloopDevice device = open(base);
        write(device, 3 * CLUSTER, original);
        device.close();
        Path top = dir.resolve("top.hdd");
        PloopImage.snapshot(List.of(base), top);

        device = open(base, top);
        byte[] patch = filled(4096, 0x77);
        write(device, 3 * CLUSTER + 8192, patch);

        byte[] expected = original.clone();
        System.arraycopy(patch, 0, expected, 8192, patch.length);
        assertThat(read(device, 3 * CLUSTER, CLUSTER)).isEqualTo(expected);
        assertThat(PloopImage.info(top).allocatedClusters()).isEqualTo(1);
        device.close();

        PloopDevice baseAlone = PloopDevice.open(List.of(base), true, io);
        opened.add(baseAlone);
        assertThat(read(baseAlone, 3 * CLUSTER, CLUSTER)).as("the base is untouched").isEqualTo(original);
        PloopDevice both = open(base, top);
        assertThat(read(both, 3 * CLUSTER, CLUSTER)).as("the top holds the whole cluster").isEqualTo(expected);
    }

    @Test
    void anOddSizeReadsAndWritesToTheLastByte() throws IOException {
        long size = 10L * MIB + 512;
        Path disk = dir.resolve("odd.hdd");
        PloopImage.create(disk, size, MIB);
        PloopDevice device = open(disk);
        assertThat(device.size()).isEqualTo(size);

        byte[] tail = random(1024, 3); // the last 512 bytes of cluster 9 and the partial cluster 10
        write(device, size - 1024, tail);
        assertThat(read(device, size - 1024, 1024)).isEqualTo(tail);
        IoFailure past = PloopTesting.writeFailure(device, size - 511, new byte[512]);
        assertThat(past.kind()).isEqualTo(IoFailure.Kind.INVALID_REQUEST);

        device.close();
        PloopDevice again = open(disk);
        assertThat(read(again, size - 1024, 1024)).isEqualTo(tail);
        assertThat(read(again, size - 1, 1)).containsExactly(tail[1023]);
        assertThat(PloopImage.info(disk).allocatedClusters()).isEqualTo(2);
        assertThat(Files.size(disk) % MIB).as("the file stays a whole number of clusters").isZero();
    }

    @Test
    void concurrentWritersToOneUnallocatedClusterAllocateItOnceAndKeepAllTheirBytes() throws Exception {
        Path base = image("base.hdd", 2L * MIB);
        byte[] underneath = random(CLUSTER, 4);
        PloopDevice seed = open(base);
        write(seed, 5 * CLUSTER, underneath); // cluster 5 is held below; clusters 0..3 nowhere
        seed.close();
        Path top = dir.resolve("top.hdd");
        PloopImage.snapshot(List.of(base), top);
        PloopDevice device = open(base, top);

        int writers = 16;
        int chunk = 2048; // each writer owns one chunk of each cluster; the rest of cluster 5 stays as below
        int[] clusters = {0, 1, 2, 3, 5};
        CountDownLatch start = new CountDownLatch(1);
        List<IoResult> results = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        for (int w = 0; w < writers; w++) {
            int writer = w;
            IoResult[] mine = new IoResult[clusters.length];
            for (int i = 0; i < mine.length; i++) {
                mine[i] = new IoResult();
                results.add(mine[i]);
            }
            Thread t = new Thread(() -> {
                try {
                    start.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int i = 0; i < clusters.length; i++) {
                    byte[] data = filled(chunk, writer + 1);
                    device.write((long) clusters[i] * CLUSTER + (long) writer * chunk,
                            ByteBuffer.allocateDirect(chunk).put(data).flip(), mine[i]);
                }
            });
            t.start();
            threads.add(t);
        }
        start.countDown();
        for (Thread t : threads) {
            t.join();
        }
        results.forEach(IoResult::awaitSuccess);

        for (int c : clusters) {
            byte[] cluster = read(device, (long) c * CLUSTER, CLUSTER);
            for (int w = 0; w < writers; w++) {
                assertThat(Arrays.copyOfRange(cluster, w * chunk, (w + 1) * chunk))
                        .as("writer %d in cluster %d", w, c).containsOnly(w + 1);
            }
            byte[] rest = Arrays.copyOfRange(cluster, writers * chunk, CLUSTER);
            byte[] expectedRest = c == 5 ? Arrays.copyOfRange(underneath, writers * chunk, CLUSTER) : new byte[rest.length];
            assertThat(rest).as("the rest of cluster %d", c).isEqualTo(expectedRest);
        }
        device.close();
        assertThat(PloopImage.info(top).allocatedClusters()).as("one allocation per cluster").isEqualTo(clusters.length);
        assertThat(Files.size(top)).as("header + exactly one cluster each").isEqualTo((1L + clusters.length) * CLUSTER);
        assertThat(PloopImage.check(top, false).findings()).isEmpty();
    }

    @Test
    void unmapReleasesWholeTopOnlyClustersAndZeroesTheRest() throws IOException {
        Path base = image("base.hdd", 1L * MIB);
        PloopDevice seed = open(base);
        write(seed, 2 * CLUSTER, filled(CLUSTER, 'L')); // held below only
        write(seed, 3 * CLUSTER, filled(CLUSTER, 'L')); // held below, and in the top after the snapshot
        seed.close();
        Path top = dir.resolve("top.hdd");
        PloopImage.snapshot(List.of(base), top);
        PloopDevice device = open(base, top);
        write(device, 0, filled(2 * CLUSTER, 'T'));        // top only
        write(device, 3 * CLUSTER, filled(CLUSTER, 'T'));
        assertThat(PloopImage.info(top).allocatedClusters()).isEqualTo(3);

        unmap(device, 0, CLUSTER);                           // whole, top only: released
        unmap(device, CLUSTER + 4096, 8192);                 // partial: zeroed
        unmap(device, 2 * CLUSTER, 2 * CLUSTER);             // whole, held below: hidden by zeros in the top
        unmap(device, 6 * CLUSTER, CLUSTER);                 // nowhere: nothing to do

        assertThat(read(device, 0, CLUSTER)).containsOnly(0);
        byte[] partial = read(device, CLUSTER, CLUSTER);
        assertThat(Arrays.copyOfRange(partial, 4096, 4096 + 8192)).containsOnly(0);
        assertThat(Arrays.copyOfRange(partial, 0, 4096)).containsOnly('T');
        assertThat(Arrays.copyOfRange(partial, 4096 + 8192, CLUSTER)).containsOnly('T');
        assertThat(read(device, 2 * CLUSTER, 2 * CLUSTER)).containsOnly(0);

        assertThat(extent(device, 0, MIB)).as("cluster 0 was released").containsExactly(0, CLUSTER);
        assertThat(extent(device, CLUSTER, MIB)).as("clusters 1-3 hold (zeroed) data").containsExactly(1, 3L * CLUSTER);
        assertThat(PloopImage.info(top).allocatedClusters()).as("1 released, 1 allocated for zeros").isEqualTo(3);
        assertThat(PloopTesting.readSlot(top, 0)).isZero();

        byte[] view = read(device, 0, 8 * CLUSTER);
        device.close();
        PloopDevice again = open(base, top);
        assertThat(read(again, 0, 8 * CLUSTER)).as("the same after reopening").isEqualTo(view);
        again.close();
        assertThat(PloopImage.check(top, false).findings()).isEmpty();
    }

    @Test
    void extentFollowsTheMap() throws IOException {
        Path disk = image("disk.hdd", 1L * MIB);
        PloopDevice device = open(disk);
        write(device, 2 * CLUSTER, new byte[512]);
        write(device, 3 * CLUSTER, new byte[512]);
        assertThat(extent(device, 0, MIB)).containsExactly(0, 2L * CLUSTER);
        assertThat(extent(device, 2 * CLUSTER + 512, MIB)).containsExactly(1, 2L * CLUSTER - 512);
        assertThat(extent(device, 4 * CLUSTER, MIB)).containsExactly(0, MIB - 4L * CLUSTER);
        assertThat(extent(device, 0, 4096)).containsExactly(0, 4096);
    }

    @Test
    void everyAcknowledgedWriteSurvivesACrashAfterFlush() throws IOException {
        Path base = image("base.hdd", 4L * MIB);
        PloopDevice seed = open(base);
        write(seed, 0, random(4 * CLUSTER, 5));
        seed.close();
        Path top = dir.resolve("top.hdd");
        PloopImage.snapshot(List.of(base), top);
        PloopDevice device = open(base, top);

        byte[] expected = read(device, 0, 4 * MIB);
        for (int i = 0; i < 24; i++) {
            byte[] data = random(3000, 100 + i);
            long offset = (long) i * 170_000 % (4L * MIB - data.length);
            write(device, offset, data);
            System.arraycopy(data, 0, expected, (int) offset, data.length);
        }
        flush(device);

        // the crash: copy the files while the device still has them open
        Path baseCopy = Files.copy(base, dir.resolve("base-crash.hdd"));
        Path topCopy = Files.copy(top, dir.resolve("top-crash.hdd"), StandardCopyOption.COPY_ATTRIBUTES);
        assertThat(PloopImage.info(topCopy).inUse()).as("the crashed top keeps its in-use mark").isTrue();

        PloopDevice recovered = open(baseCopy, topCopy);
        assertThat(read(recovered, 0, 4 * MIB)).isEqualTo(expected);
        assertThat(PloopImage.info(topCopy).inUse()).isTrue();
        recovered.close();
        assertThat(PloopImage.info(topCopy).inUse()).isFalse();
    }

    @Test
    void readOnlyDevicesRefuseWritesAndLeaveTheImageAlone() throws IOException {
        Path disk = image("disk.hdd", 1L * MIB);
        PloopDevice device = PloopDevice.open(List.of(disk), true, io);
        opened.add(device);
        assertThat(PloopImage.info(disk).inUse()).isFalse();
        assertThat(PloopTesting.writeFailure(device, 0, new byte[512]).kind()).isEqualTo(IoFailure.Kind.READ_ONLY);
        assertThat(read(device, 0, 512)).containsOnly(0);
        flush(device);
        assertThatThrownBy(() -> device.snapshot(dir.resolve("s.hdd"))).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void badImagesAreRefusedNamingTheFileAndTheProblem() throws IOException {
        Path garbage = Files.write(dir.resolve("garbage.hdd"), random(2 * CLUSTER, 6));
        assertThatThrownBy(() -> open(garbage)).isInstanceOf(PloopFormatException.class)
                .hasMessageContaining("garbage.hdd").hasMessageContaining("bad signature");

        Path corrupted = image("corrupted.hdd", 1L * MIB);
        PloopTesting.writeInt(corrupted, 28, 100); // m_Sectors: 100 sectors is no power of two
        assertThatThrownBy(() -> open(corrupted)).isInstanceOf(PloopFormatException.class)
                .hasMessageContaining("corrupted.hdd").hasMessageContaining("not a power of two");

        Path tiny = Files.write(dir.resolve("tiny.hdd"), new byte[10]);
        assertThatThrownBy(() -> open(tiny)).hasMessageContaining("tiny.hdd").hasMessageContaining("too short");

        Path truncated = image("truncated.hdd", 16369L * CLUSTER); // a BAT of two clusters
        try (var ch = java.nio.channels.FileChannel.open(truncated, java.nio.file.StandardOpenOption.WRITE)) {
            ch.truncate(CLUSTER);
        }
        assertThatThrownBy(() -> open(truncated)).isInstanceOf(PloopFormatException.class)
                .hasMessageContaining("truncated.hdd").hasMessageContaining("shorter than its header and BAT");

        Path pastEof = image("past-eof.hdd", 1L * MIB);
        PloopTesting.writeSlot(pastEof, 4, 9); // the file has 1 cluster
        assertThatThrownBy(() -> open(pastEof)).isInstanceOf(PloopFormatException.class)
                .hasMessageContaining("past-eof.hdd")
                .hasMessageContaining("BAT entry 4 points to cluster 9, past the end of the file");

        Path missing = dir.resolve("missing.hdd");
        assertThatThrownBy(() -> open(image("ok.hdd", MIB), missing)).isInstanceOf(PloopFormatException.class)
                .hasMessageContaining("missing.hdd").hasMessageContaining("does not exist");
    }

    @Test
    void aChainOfDeltasThatDoNotFitIsRefusedNamingTheDelta() throws IOException {
        Path base = image("base.hdd", 1L * MIB);
        Path bigger = image("bigger.hdd", 2L * MIB);
        assertThatThrownBy(() -> open(base, bigger)).isInstanceOf(PloopFormatException.class)
                .hasMessageContaining("bigger.hdd").hasMessageContaining("virtual size 2097152 bytes")
                .hasMessageContaining("base.hdd");

        Path coarse = dir.resolve("coarse.hdd");
        PloopImage.create(coarse, MIB, 2 * CLUSTER);
        assertThatThrownBy(() -> open(base, coarse)).isInstanceOf(PloopFormatException.class)
                .hasMessageContaining("coarse.hdd").hasMessageContaining("cluster size 131072 bytes");

        assertThatThrownBy(() -> open(base, base)).hasMessageContaining("appears twice");
        assertThat(PloopImage.info(base).inUse()).as("nothing was marked").isFalse();
    }
}
