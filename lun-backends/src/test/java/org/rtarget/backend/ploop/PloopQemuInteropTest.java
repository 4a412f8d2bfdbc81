package org.rtarget.backend.ploop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.rtarget.backend.ploop.PloopTesting.CLUSTER;
import static org.rtarget.backend.ploop.PloopTesting.MIB;
import static org.rtarget.backend.ploop.PloopTesting.filled;
import static org.rtarget.backend.ploop.PloopTesting.read;
import static org.rtarget.backend.ploop.PloopTesting.write;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.rtarget.backend.ploop.PloopTesting.Run;

/**
 * Byte compatibility with an independent implementation of the format: QEMU's "parallels" block
 * driver, both ways. Needs qemu-img and qemu-io (package qemu-utils); fails, not skips, without them.
 */
@Timeout(120)
class PloopQemuInteropTest {

    @TempDir
    Path dir;

    private final ExecutorService io = Executors.newFixedThreadPool(2, r -> new Thread(r, "ploop-io"));

    @BeforeEach
    void requireQemu() {
        PloopTesting.requireOnPath("qemu-img", "install qemu-utils (QEMU's parallels driver is the reference this test compares with)");
        PloopTesting.requireOnPath("qemu-io", "install qemu-utils (QEMU's parallels driver is the reference this test compares with)");
    }

    @AfterEach
    void tearDown() throws InterruptedException {
        io.shutdownNow();
        io.awaitTermination(5, TimeUnit.SECONDS);
    }

    @Test
    void imagesCreatedHerePassQemuImgCheck() throws Exception {
        Path plain = dir.resolve("plain.hdd");
        PloopImage.create(plain, 64L * MIB);
        Path odd = dir.resolve("odd.hdd");
        PloopImage.create(odd, 10L * MIB + 512, MIB);

        assertQemuCheckClean(plain);
        assertQemuCheckClean(odd);
        assertThat(qemu("qemu-img", "info", "-f", "parallels", odd.toString()).output())
                .contains("virtual size: 10 MiB (10486272 bytes)");
    }

    @Test
    void aBatOfTwoClustersIsLaidOutAsQemuLaysItOut() throws Exception {
        long size = 16369L * CLUSTER; // (16 + 16369) x 4 bytes: the BAT needs a second cluster
        Path ours = dir.resolve("ours.hdd");
        PloopImage.create(ours, size, CLUSTER);
        Path theirs = dir.resolve("theirs.hdd");
        qemu("qemu-img", "create", "-f", "parallels", "-o", "cluster_size=64k", theirs.toString(), Long.toString(size));

        byte[] a = Files.readAllBytes(ours);
        byte[] b = Files.readAllBytes(theirs);
        assertThat(a).hasSameSizeAs(b);
        // the same bytes but for the unused CHS geometry (20..27: ploop's ConvertToCHS, QEMU's
        // 16 heads x 32 sectors) and m_Flags (52: ploop sets CIF_Empty on a new image, QEMU 0)
        for (int i = 0; i < a.length; i++) {
            if ((i < 20 || i >= 28) && (i < 52 || i >= 56)) {
                assertThat(a[i]).as("byte %d", i).isEqualTo(b[i]);
            }
        }
        // QEMU 7.2's check misreads the end of an empty image whose BAT spans two clusters and
        // reports a leaked cluster; it says exactly the same of its own image, and no corruption
        Run ourCheck = PloopTesting.run("qemu-img", "check", "-f", "parallels", ours.toString());
        Run theirCheck = PloopTesting.run("qemu-img", "check", "-f", "parallels", theirs.toString());
        assertThat(ourCheck.output().replace(ours.toString(), "X")).isEqualTo(theirCheck.output().replace(theirs.toString(), "X"));
        assertThat(ourCheck.exitCode()).as(ourCheck.output()).isIn(0, 3); // 3 = leaks only

        try (PloopDevice device = PloopDevice.open(List.of(ours), false, io)) {
            write(device, size - CLUSTER, filled(CLUSTER, 0x19));
        }
        assertQemuCheckClean(ours);
        qemuIo(ours, "read -P 0x19 " + (size - CLUSTER) + " 64k");
    }

    @Test
    void preallocatedImagesAreFullyAllocatedForQemuAndNeverGrow() throws Exception {
        Path image = dir.resolve("prealloc.hdd");
        long size = 520L * MIB; // 8320 clusters of 64 KiB: three preallocation steps of 4096
        List<long[]> steps = new java.util.ArrayList<>();
        PloopImage.create(image, size, CLUSTER, FormatVersion.V2, true, (done, total) -> steps.add(new long[] {done, total}));
        assertThat(steps).extracting(s -> s[0]).containsExactly(4096L, 8192L, 8320L);
        assertThat(steps).extracting(s -> s[1]).containsOnly(8320L);

        ImageInfo info = PloopImage.info(image);
        assertThat(info.allocatedClusters()).isEqualTo(8320);
        long fileSize = Files.size(image);
        assertThat(fileSize).isEqualTo((PloopHeader.batClusters(8320, CLUSTER) + 8320L) * CLUSTER);
        assertThat(PloopImage.check(image, false).findings()).isEmpty();
        // the header and BAT take one cluster (64 + 8320 x 4 bytes); the data follows in order
        assertThat(PloopTesting.readSlot(image, 0)).as("virtual cluster 0 right after the BAT").isEqualTo(1);
        assertThat(PloopTesting.readSlot(image, 8319)).isEqualTo(8320);
        assertThat(qemu("qemu-img", "check", "-f", "parallels", image.toString()).output())
                .contains("8320/8320 = 100.00% allocated");

        try (PloopDevice device = PloopDevice.open(List.of(image), false, io)) {
            assertThat(read(device, 300L * MIB, 4096)).containsOnly(0);
            write(device, 300L * MIB + 4096, filled(8192, 0x6b));
        }
        assertThat(Files.size(image)).as("a write into a preallocated image allocates nothing").isEqualTo(fileSize);
        assertQemuCheckClean(image);
        qemuIo(image, "read -P 0x6b 314576896 8k");
        qemuIo(image, "read -P 0 300M 4k");
    }

    @Test
    void aV1ImageTooLargeToPreallocateIsRefusedBeforeAnythingIsWritten() {
        // v1 entries are sector offsets: with 1 MiB clusters the last nameable cluster is 2097151,
        // and the header and BAT come first, so a preallocated image just under 2 TiB cannot exist
        Path image = dir.resolve("v1-big.hdd");
        assertThatThrownBy(() -> PloopImage.create(image, 2L * 1024 * 1024 * MIB - 512, MIB, FormatVersion.V1, true,
                Progress.NONE)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("past what its BAT");
        assertThat(image).doesNotExist();
    }

    @Test
    void imagesWrittenHerePassQemuImgCheckAndReadBackInQemu() throws Exception {
        Path image = dir.resolve("ours.hdd");
        PloopImage.create(image, 10L * MIB + 512, MIB);
        try (PloopDevice device = PloopDevice.open(List.of(image), false, io)) {
            write(device, 0, filled(MIB, 0x5a));
            write(device, 3L * MIB + 4096, filled(8192, 0x3c));
            write(device, 10L * MIB, filled(512, 0x77)); // the partial last cluster
        }
        assertQemuCheckClean(image);
        qemuIo(image, "read -P 0x5a 0 1M");
        qemuIo(image, "read -P 0 3M 4k");
        qemuIo(image, "read -P 0x3c 3149824 8k");
        qemuIo(image, "read -P 0 5M 1M");
        qemuIo(image, "read -P 0x77 10M 512");
    }

    @Test
    void v1ImagesWrittenHereReadBackInQemu() throws Exception {
        // v1 BAT entries are sector offsets; QEMU multiplies them by 1 instead of by the cluster size
        Path image = dir.resolve("v1.hdd");
        PloopImage.create(image, 8L * MIB, CLUSTER, FormatVersion.V1);
        try (PloopDevice device = PloopDevice.open(List.of(image), false, io)) {
            write(device, 5L * CLUSTER, filled(CLUSTER, 0x42));
            write(device, 2L * CLUSTER, filled(CLUSTER, 0x24));
        }
        assertThat(PloopTesting.readSlot(image, 5)).as("v1: the first data cluster's offset in sectors").isEqualTo(128);
        assertQemuCheckClean(image);
        qemuIo(image, "read -P 0x42 320k 64k");
        qemuIo(image, "read -P 0x24 128k 64k");
        qemuIo(image, "read -P 0 0 128k");

        qemuIo(image, "write -P 0x3f 1M 4k"); // QEMU allocates in the v1 image: a sector offset again
        try (PloopDevice device = PloopDevice.open(List.of(image), true, io)) {
            assertThat(read(device, MIB, 4096)).containsOnly(0x3f);
            assertThat(read(device, MIB + 4096, 4096)).containsOnly(0);
            assertThat(read(device, 5L * CLUSTER, CLUSTER)).containsOnly(0x42);
        }
        assertThat(PloopTesting.readSlot(image, MIB / CLUSTER)).as("cluster 3, in sectors").isEqualTo(3 * 128);
    }

    @Test
    void qemuWritesReadBackThroughPloopDevice() throws Exception {
        Path image = dir.resolve("qemu-writes.hdd");
        PloopImage.create(image, 16L * MIB);
        qemuIo(image, "write -P 0x5a 0 1M");
        qemuIo(image, "write -P 0xa5 7M 4k");
        assertQemuCheckClean(image);

        try (PloopDevice device = PloopDevice.open(List.of(image), true, io)) {
            assertThat(read(device, 0, MIB)).containsOnly(0x5a);
            assertThat(read(device, 7L * MIB, 4096)).containsOnly(0xa5);
            assertThat(read(device, 7L * MIB + 4096, 4096)).containsOnly(0);
            assertThat(read(device, MIB, MIB)).containsOnly(0);
        }
    }

    @Test
    void imagesQemuCreatesOpenHereAndOurWritesReadBackInQemu() throws Exception {
        Path image = dir.resolve("qemu-made.hdd");
        qemu("qemu-img", "create", "-f", "parallels", "-o", "cluster_size=64k", image.toString(), "10485760");
        ImageInfo info = PloopImage.info(image);
        assertThat(info.version()).as("QEMU writes the v2 signature").isEqualTo(FormatVersion.V2);
        assertThat(info.clusterBytes()).isEqualTo(CLUSTER);
        assertThat(info.virtualSize()).isEqualTo(10L * MIB);

        try (PloopDevice device = PloopDevice.open(List.of(image), false, io)) {
            write(device, 0, filled(4096, 0xa5));
            write(device, 2L * MIB, filled(3 * CLUSTER, 0x11));
            write(device, 10L * MIB - 512, filled(512, 0xee));
        }
        assertQemuCheckClean(image);
        qemuIo(image, "read -P 0xa5 0 4k");
        qemuIo(image, "read -P 0 4k 60k");
        qemuIo(image, "read -P 0x11 2M 192k");
        qemuIo(image, "read -P 0xee 10239.5k 512");

        // and back: QEMU writes over what we allocated, we read it
        qemuIo(image, "write -P 0x66 2M 4k");
        try (PloopDevice device = PloopDevice.open(List.of(image), true, io)) {
            assertThat(read(device, 2L * MIB, 4096)).containsOnly(0x66);
            assertThat(read(device, 2L * MIB + 4096, 4096)).containsOnly(0x11);
        }
    }

    @Test
    void qemuRefusesAnImageLeftInUseAndAcceptsItAfterOurRepair() throws Exception {
        Path image = dir.resolve("crashed.hdd");
        PloopImage.create(image, 4L * MIB, CLUSTER);
        PloopDevice device = PloopDevice.open(List.of(image), false, io);
        write(device, 0, filled(4096, 0x21));
        PloopTesting.flush(device);
        Path crashed = Files.copy(image, dir.resolve("crashed-copy.hdd"));
        device.close();

        Run refused = PloopTesting.run("qemu-io", "-f", "parallels", "-c", "read 0 4k", crashed.toString());
        assertThat(refused.exitCode()).as(refused.output()).isNotZero();
        assertThat(refused.output()).contains("not closed correctly");

        assertThat(PloopImage.check(crashed, true).consistent()).isTrue();
        assertQemuCheckClean(crashed);
        qemuIo(crashed, "read -P 0x21 0 4k");
    }

    private static void assertQemuCheckClean(Path image) throws Exception {
        Run check = PloopTesting.run("qemu-img", "check", "-f", "parallels", image.toString());
        assertThat(check.exitCode()).as("qemu-img check %s: %s", image.getFileName(), check.output()).isZero();
        assertThat(check.output()).contains("No errors were found");
    }

    private static void qemuIo(Path image, String command) throws Exception {
        qemu("qemu-io", "-f", "parallels", "-c", command, image.toString());
    }

    private static Run qemu(String... command) throws IOException, InterruptedException {
        Run run = PloopTesting.run(command);
        assertThat(run.exitCode()).as("%s: %s", String.join(" ", command), run.output()).isZero();
        assertThat(run.output()).doesNotContain("Pattern verification failed");
        return run;
    }
}
