package org.rtarget.backend.ploop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.rtarget.backend.ploop.PloopTesting.CLUSTER;
import static org.rtarget.backend.ploop.PloopTesting.MIB;
import static org.rtarget.backend.ploop.PloopTesting.filled;
import static org.rtarget.backend.ploop.PloopTesting.flush;
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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.rtarget.backend.ploop.CheckReport.Problem;

@Timeout(60)
class PloopCheckTest {

    @TempDir
    Path dir;

    private final ExecutorService io = Executors.newFixedThreadPool(2, r -> new Thread(r, "ploop-io"));

    @AfterEach
    void tearDown() throws InterruptedException {
        io.shutdownNow();
        io.awaitTermination(5, TimeUnit.SECONDS);
    }

    /** An image with clusters 1 ('a'), 2 ('b') and 3 ('c') written, in that order, closed cleanly. */
    private Path imageWithThreeClusters(String name) throws IOException {
        Path image = dir.resolve(name);
        PloopImage.create(image, 2L * MIB, CLUSTER);
        try (PloopDevice device = PloopDevice.open(List.of(image), false, io)) {
            write(device, CLUSTER, filled(CLUSTER, 'a'));
            write(device, 2L * CLUSTER, filled(CLUSTER, 'b'));
            write(device, 3L * CLUSTER, filled(CLUSTER, 'c'));
        }
        return image;
    }

    @Test
    void aCleanImageChecksClean() throws IOException {
        Path image = imageWithThreeClusters("clean.hdd");
        CheckReport report = PloopImage.check(image, false);
        assertThat(report.clean()).as(report.toString()).isTrue();
        assertThat(report.notes()).isEmpty();
        assertThat(report.toString()).contains("no problems found");
    }

    @Test
    void checkFindsTheInUseMarkAfterACrashAndRepairClearsIt() throws IOException {
        Path image = dir.resolve("disk.hdd");
        PloopImage.create(image, 2L * MIB, CLUSTER);
        PloopDevice device = PloopDevice.open(List.of(image), false, io);
        write(device, 0, filled(8192, 0x42));
        flush(device);
        Path crashed = Files.copy(image, dir.resolve("crashed.hdd")); // the device never closed it
        device.close();

        CheckReport found = PloopImage.check(crashed, false);
        assertThat(found.found(Problem.IN_USE)).as(found.toString()).isTrue();
        assertThat(found.consistent()).isFalse();
        assertThat(found.toString()).contains("found: the in-use mark is set");
        assertThat(PloopImage.info(crashed).inUse()).as("a check without repair changes nothing").isTrue();

        CheckReport repaired = PloopImage.check(crashed, true);
        assertThat(repaired.findings()).singleElement().satisfies(f -> {
            assertThat(f.problem()).isEqualTo(Problem.IN_USE);
            assertThat(f.fixed()).isTrue();
        });
        assertThat(repaired.toString()).contains("fixed: the in-use mark is set").contains("cleared");
        assertThat(PloopImage.info(crashed).inUse()).isFalse();
        assertThat(PloopImage.check(crashed, false).clean()).isTrue();

        try (PloopDevice again = PloopDevice.open(List.of(crashed), true, io)) {
            assertThat(read(again, 0, 8192)).containsOnly(0x42);
        }
    }

    @Test
    void checkFindsAndRepairsADuplicatedBatEntryKeepingTheFirst() throws IOException {
        Path image = imageWithThreeClusters("dup.hdd");
        int clusterOfB = PloopTesting.readSlot(image, 2);
        PloopTesting.writeSlot(image, 7, clusterOfB); // virtual cluster 7 now claims 'b' too

        assertThatThrownBy(() -> PloopDevice.open(List.of(image), true, io)).isInstanceOf(PloopFormatException.class)
                .hasMessageContaining("dup.hdd").hasMessageContaining("BAT entry 2 already uses");

        CheckReport found = PloopImage.check(image, false);
        assertThat(found.findings()).singleElement().satisfies(f -> {
            assertThat(f.problem()).isEqualTo(Problem.ENTRY_DUPLICATE);
            assertThat(f.description()).contains("BAT entry 7 points to cluster " + clusterOfB)
                    .contains("BAT entry 2 already uses").contains("lost");
            assertThat(f.fixed()).isFalse();
        });

        CheckReport repaired = PloopImage.check(image, true);
        assertThat(repaired.consistent()).isTrue();
        assertThat(repaired.findings()).singleElement().satisfies(f -> assertThat(f.fixed()).isTrue());
        assertThat(PloopTesting.readSlot(image, 7)).isZero();
        assertThat(PloopTesting.readSlot(image, 2)).as("the first keeps its cluster").isEqualTo(clusterOfB);

        try (PloopDevice device = PloopDevice.open(List.of(image), true, io)) {
            assertThat(read(device, 2L * CLUSTER, CLUSTER)).containsOnly('b');
            assertThat(read(device, 7L * CLUSTER, CLUSTER)).containsOnly(0);
        }
    }

    @Test
    void checkUnallocatesEntriesPastTheEndOrAfterTheLastClusterAndTruncatesNothing() throws IOException {
        Path image = imageWithThreeClusters("bad-entries.hdd");
        long sizeBefore = Files.size(image);
        PloopTesting.writeSlot(image, 10, 99); // the file has 4 clusters
        PloopTesting.writeSlot(image, 100, 2); // the image has 32 virtual clusters: slot 100 is BAT slack

        CheckReport found = PloopImage.check(image, false);
        assertThat(found.findings()).extracting(CheckReport.Finding::problem)
                .containsExactly(Problem.ENTRY_PAST_EOF, Problem.ENTRY_BEYOND_SIZE);
        assertThat(found.findings().getFirst().description())
                .contains("BAT entry 10 points to cluster 99, past the end of the file");

        CheckReport repaired = PloopImage.check(image, true);
        assertThat(repaired.consistent()).as(repaired.toString()).isTrue();
        assertThat(PloopTesting.readSlot(image, 10)).isZero();
        assertThat(PloopTesting.readSlot(image, 100)).isZero();
        assertThat(Files.size(image)).isEqualTo(sizeBefore);
        try (PloopDevice device = PloopDevice.open(List.of(image), true, io)) {
            assertThat(read(device, 10L * CLUSTER, CLUSTER)).containsOnly(0);
            assertThat(read(device, 3L * CLUSTER, CLUSTER)).containsOnly('c');
        }
    }

    @Test
    void checkUnallocatesAnEntryPointingIntoTheBat() throws IOException {
        Path image = dir.resolve("two-bat-clusters.hdd");
        PloopImage.create(image, 16369L * CLUSTER, CLUSTER); // the BAT fills clusters 0 and 1
        PloopTesting.writeSlot(image, 5, 1);

        assertThatThrownBy(() -> PloopDevice.open(List.of(image), true, io)).isInstanceOf(PloopFormatException.class)
                .hasMessageContaining("BAT entry 5 points to cluster 1, inside the header and BAT");
        CheckReport repaired = PloopImage.check(image, true);
        assertThat(repaired.findings()).extracting(CheckReport.Finding::problem).containsExactly(Problem.ENTRY_IN_HEADER);
        assertThat(repaired.consistent()).isTrue();
        assertThat(PloopTesting.readSlot(image, 5)).isZero();
    }

    @Test
    void clustersLeakedByAnInterruptedAllocationAreReportedNotTruncated() throws IOException {
        Path image = imageWithThreeClusters("leaky.hdd");
        PloopTesting.writeBytes(image, Files.size(image), filled(CLUSTER + 512, 0x33)); // data, no BAT entry
        long size = Files.size(image);

        CheckReport report = PloopImage.check(image, true);
        assertThat(report.clean()).isTrue();
        assertThat(report.notes()).anySatisfy(n -> assertThat(n).contains("1 cluster(s) at the end of the file are not in the BAT"));
        assertThat(report.notes()).anySatisfy(n -> assertThat(n).contains("not a multiple of the cluster size"));
        assertThat(Files.size(image)).isEqualTo(size);

        // new clusters go after the leaked bytes, never over them
        try (PloopDevice device = PloopDevice.open(List.of(image), false, io)) {
            write(device, 9L * CLUSTER, filled(512, 0x44));
        }
        assertThat(PloopTesting.readSlot(image, 9)).isEqualTo(6);
        assertThat(PloopImage.check(image, false).findings()).isEmpty();
    }

    @Test
    void aBadHeaderIsReportedAndNothingElseIsTouched() throws IOException {
        Path image = imageWithThreeClusters("bad-header.hdd");
        PloopTesting.writeBytes(image, 0, "NotAPloopImage!!".getBytes());
        CheckReport report = PloopImage.check(image, true);
        assertThat(report.findings()).singleElement().satisfies(f -> {
            assertThat(f.problem()).isEqualTo(Problem.BAD_HEADER);
            assertThat(f.description()).contains("bad-header.hdd").contains("bad signature");
            assertThat(f.fixed()).isFalse();
        });
        assertThat(report.consistent()).isFalse();
        assertThatThrownBy(() -> PloopImage.check(dir.resolve("missing.hdd"), false))
                .isInstanceOf(PloopFormatException.class).hasMessageContaining("missing.hdd");
    }
}
