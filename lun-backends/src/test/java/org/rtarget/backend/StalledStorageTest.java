package org.rtarget.backend;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.rtarget.backend.file.FileDevice;
import org.rtarget.backend.ploop.CheckReport;
import org.rtarget.backend.ploop.PloopDevice;
import org.rtarget.backend.ploop.PloopImage;

/**
 * Storage that stalls and then answers late (a bindfs daemon stopped with SIGSTOP, then continued):
 * a late answer from storage that was replaced meanwhile is never a success, a replaced ploop top
 * never has one cluster named twice, and a hung mount holds up no other device.
 */
@Timeout(120)
class StalledStorageTest {
    private static final int MIB = 1 << 20;
    private static final int CLUSTER = 64 * 1024;

    @TempDir
    Path dir;

    private final ExecutorService threads = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "stall-test-io");
        t.setDaemon(true);
        return t;
    });
    private final List<AutoCloseable> toClose = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (AutoCloseable c : toClose.reversed()) {
            c.close();
        }
        threads.shutdownNow();
    }

    private BindfsMount mount() throws Exception {
        BindfsMount m = new BindfsMount(dir.resolve("src"), dir.resolve("mnt"));
        toClose.add(m);
        return m;
    }

    private <T extends AutoCloseable> T closing(T c) {
        toClose.add(c);
        return c;
    }

    private static IoResult write(BlockDevice device, long offset, byte[] data) {
        IoResult r = new IoResult();
        device.write(offset, ByteBuffer.allocateDirect(data.length).put(data).flip(), r);
        return r;
    }

    private static IoResult read(BlockDevice device, long offset, ByteBuffer dst) {
        IoResult r = new IoResult();
        device.read(offset, dst, r);
        return r;
    }

    private static byte[] readBack(BlockDevice device, long offset, int length) {
        ByteBuffer dst = ByteBuffer.allocateDirect(length);
        read(device, offset, dst).awaitSuccess();
        byte[] out = new byte[length];
        dst.get(0, out);
        return out;
    }

    private static byte[] filled(int length, int value) {
        byte[] b = new byte[length];
        Arrays.fill(b, (byte) value);
        return b;
    }

    /** Waits until {@code n} threads are blocked in the named libc call (the stalled storage holds them). */
    private static void awaitThreadsIn(String posixCall, int n) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            int in = 0;
            for (StackTraceElement[] stack : Thread.getAllStackTraces().values()) {
                if (Arrays.stream(stack).anyMatch(f -> f.getClassName().endsWith("posix.Posix")
                        && f.getMethodName().equals(posixCall))) {
                    in++;
                }
            }
            if (in >= n) {
                return;
            }
            assertThat(System.nanoTime()).as("%d thread(s) in %s", n, posixCall).isLessThan(deadline);
            Thread.sleep(10);
        }
    }

    @Test
    void aWriteThatLandsInTheImageARecoveryLeftIsNotASuccess() throws Exception {
        BindfsMount storage = mount();
        Path replacement = dir.resolve("copy.img");
        FileDevice device = closing(FileDevice.open(storage.path().resolve("disk.img"), 4L * MIB, 512, false,
                new IoLane(threads, 4)));
        write(device, 0, filled(4096, 1)).awaitSuccess();
        Files.copy(storage.source().resolve("disk.img"), replacement);

        storage.stop();
        IoResult late = write(device, 0, filled(4096, 2));
        awaitThreadsIn("pwrite", 1);
        device.recover(replacement); // the operator moves the LUN to the copy meanwhile
        storage.cont();

        IoFailure failure = late.awaitFailure();
        assertThat(failure.kind()).as("%s", failure).isEqualTo(IoFailure.Kind.RETRY);
        assertThat(readBack(device, 0, 4096)).as("reads look at the copy").isEqualTo(filled(4096, 1));
        write(device, 0, filled(4096, 3)).awaitSuccess();
        assertThat(readBack(device, 0, 4096)).isEqualTo(filled(4096, 3));
    }

    @Test
    void aSameTopReplaceWhileACopyOnWriteStallsNamesNoClusterTwice() throws Exception {
        BindfsMount storage = mount();
        Path base = storage.path().resolve("base.hdd");
        Path top = dir.resolve("top.hdd");
        PloopImage.create(base, 8L * MIB, CLUSTER);
        PloopDevice device = closing(PloopDevice.open(List.of(base), false, new IoLane(threads, 4)));
        write(device, 0, filled(CLUSTER, 1)).awaitSuccess();
        device.snapshot(top); // base (on the stallable mount) below, top on local disk

        storage.stop();
        // half a cluster only the base holds: the top allocates a cluster, then reads the base
        // for the other half (copy-on-write), which hangs
        IoResult stalled = write(device, 0, filled(CLUSTER / 2, 2));
        awaitThreadsIn("pread", 1);

        device.replaceTopDelta(top); // same file: a vz7 replace-delta while the old chain hangs
        write(device, 4L * CLUSTER, filled(CLUSTER, 4)).awaitSuccess();  // a new cluster in the new chain
        write(device, 5L * CLUSTER, filled(CLUSTER, 5)).awaitSuccess();
        storage.cont();

        IoFailure failure = stalled.awaitFailure();
        assertThat(failure.kind()).as("the straggler of the replaced chain: %s", failure).isEqualTo(IoFailure.Kind.RETRY);
        assertThat(readBack(device, 0, CLUSTER)).as("cluster 0 is still the base's").isEqualTo(filled(CLUSTER, 1));
        assertThat(readBack(device, 4L * CLUSTER, CLUSTER)).isEqualTo(filled(CLUSTER, 4));
        assertThat(readBack(device, 5L * CLUSTER, CLUSTER)).isEqualTo(filled(CLUSTER, 5));
        device.close();

        CheckReport report = PloopImage.check(top, false);
        assertThat(report.found(CheckReport.Problem.ENTRY_DUPLICATE)).as("%s", report).isFalse();
        assertThat(report.clean()).as("%s", report).isTrue();
        try (PloopDevice reopened = PloopDevice.open(List.of(base, top), false, new IoLane(threads, 4))) {
            assertThat(readBack(reopened, 0, CLUSTER)).isEqualTo(filled(CLUSTER, 1));
            assertThat(readBack(reopened, 4L * CLUSTER, CLUSTER)).isEqualTo(filled(CLUSTER, 4));
            assertThat(readBack(reopened, 5L * CLUSTER, CLUSTER)).isEqualTo(filled(CLUSTER, 5));
        }
    }

    @Test
    void aHungMountHoldsUpNoOtherDevice() throws Exception {
        BindfsMount storage = mount();
        FileDevice hung = closing(FileDevice.open(storage.path().resolve("hung.img"), 4L * MIB, 512, false,
                new IoLane(threads, FileDevice.DEFAULT_IO_THREADS)));
        FileDevice healthy = closing(FileDevice.open(dir.resolve("healthy.img"), 4L * MIB, 512, false,
                new IoLane(threads, FileDevice.DEFAULT_IO_THREADS)));

        storage.stop();
        List<IoResult> stuck = new ArrayList<>();
        for (int i = 0; i < 3 * FileDevice.DEFAULT_IO_THREADS; i++) {
            stuck.add(read(hung, (long) i * 4096, ByteBuffer.allocateDirect(4096)));
        }
        awaitThreadsIn("pread", FileDevice.DEFAULT_IO_THREADS);

        // every thread the hung device may have is stuck, and the other device works all the same
        byte[] data = filled(MIB, 7);
        write(healthy, 0, data).awaitSuccess();
        assertThat(readBack(healthy, 0, MIB)).isEqualTo(data);
        assertThat(stuck).noneMatch(IoResult::isDone);

        storage.cont();
        stuck.forEach(IoResult::awaitSuccess);
    }
}
