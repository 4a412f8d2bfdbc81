package org.rtarget.backend.ploop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.rtarget.backend.ploop.PloopTesting.CLUSTER;
import static org.rtarget.backend.ploop.PloopTesting.MIB;
import static org.rtarget.backend.ploop.PloopTesting.filled;
import static org.rtarget.backend.ploop.PloopTesting.read;
import static org.rtarget.backend.ploop.PloopTesting.write;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.rtarget.backend.Errno;
import org.rtarget.backend.IoFailure;
import org.rtarget.backend.IoResult;

/**
 * The standby case ploop exists for: the chain sits on a FUSE mount (bindfs) whose daemon dies, so
 * every request fails with ENOTCONN; after a remount, recover() reopens the chain and signals
 * recovery. Needs bindfs, fuse3 and FUSE rights; fails rather than skips without them.
 */
@Timeout(60)
class PloopDeviceFuseFaultTest {

    @TempDir
    Path dir;

    private Path source;
    private Path mountPoint;
    private Process bindfs;
    private final ExecutorService io = Executors.newFixedThreadPool(2, r -> new Thread(r, "ploop-io"));
    private PloopDevice device;

    @BeforeEach
    void setUp() throws IOException {
        PloopTesting.requireOnPath("bindfs", "this test needs a real FUSE mount; install bindfs and fuse3");
        PloopTesting.requireOnPath("fusermount3", "this test needs a real FUSE mount; install bindfs and fuse3");
        if (!Files.exists(Path.of("/dev/fuse"))) {
            fail("/dev/fuse is missing: this test needs FUSE (install fuse3; in a container pass --device /dev/fuse)");
        }
        source = Files.createDirectory(dir.resolve("src"));
        mountPoint = Files.createDirectory(dir.resolve("mnt"));
    }

    @AfterEach
    void tearDown() throws Exception {
        try {
            if (device != null) {
                device.close();
            }
            io.shutdownNow();
            io.awaitTermination(5, TimeUnit.SECONDS);
        } finally {
            if (bindfs != null && bindfs.isAlive()) {
                bindfs.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
            if (mountPoint != null && isMounted(mountPoint)) {
                unmountLazily();
            }
        }
    }

    @Test
    void aDeadMountFailsWithEnotconnAndRecoverAfterRemountServesTheChainAgain() throws Exception {
        PloopImage.create(source.resolve("base.hdd"), 4L * MIB, CLUSTER);
        PloopImage.snapshot(List.of(source.resolve("base.hdd")), source.resolve("top.hdd"));
        mountBindfs();
        Path base = mountPoint.resolve("base.hdd");
        Path top = mountPoint.resolve("top.hdd");
        device = PloopDevice.open(List.of(base, top), false, io);
        AtomicInteger recovered = new AtomicInteger();
        device.attach(recovered::incrementAndGet);
        write(device, 8192, filled(16384, 0x61));

        bindfs.destroyForcibly(); // SIGKILL: the daemon dies without unmounting
        assertThat(bindfs.waitFor(5, TimeUnit.SECONDS)).as("bindfs killed").isTrue();

        IoResult readResult = new IoResult();
        device.read(8192, ByteBuffer.allocateDirect(4096), readResult);
        IoFailure readFailure = readResult.awaitFailure();
        assertThat(readFailure.errno()).isEqualTo(Errno.ENOTCONN);
        assertThat(readFailure.kind()).isEqualTo(IoFailure.Kind.UNAVAILABLE);
        assertThat(readFailure.message()).contains("pread", "top.hdd");

        IoFailure allocating = PloopTesting.writeFailure(device, 2L * CLUSTER, new byte[4096]);
        assertThat(allocating.errno()).as(allocating.toString()).isEqualTo(Errno.ENOTCONN);
        IoResult flushResult = new IoResult();
        device.flush(flushResult);
        assertThat(flushResult.awaitFailure().errno()).isEqualTo(Errno.ENOTCONN);
        assertThat(recovered.get()).as("no recovery signalled yet").isZero();

        unmountLazily();
        mountBindfs();
        device.recover(null);

        assertThat(recovered.get()).isEqualTo(1);
        assertThat(device.deltas()).containsExactly(base, top);
        assertThat(read(device, 8192, 16384)).containsOnly(0x61);
        write(device, 3L * CLUSTER, filled(4096, 0x62));
        assertThat(read(device, 3L * CLUSTER, 4096)).containsOnly(0x62);
        device.close();
        device = null;
        assertThat(PloopImage.check(source.resolve("top.hdd"), false).findings()).isEmpty();
    }

    @Test
    void preallocationWritesZerosWhereTheFilesystemHasNoFallocate() throws Exception {
        mountBindfs(); // bindfs answers fallocate with EOPNOTSUPP
        Path image = mountPoint.resolve("prealloc.hdd");
        PloopImage.create(image, 4L * MIB, CLUSTER, FormatVersion.V2, true, Progress.NONE);
        ImageInfo info = PloopImage.info(image);
        assertThat(info.allocatedClusters()).isEqualTo(64);
        assertThat(PloopImage.check(image, false).findings()).isEmpty();
        long blocks = Long.parseLong(PloopTesting.run("stat", "-c", "%b", source.resolve("prealloc.hdd").toString())
                .output().trim());
        assertThat(blocks * 512).as("the data clusters are really allocated, not holes").isGreaterThanOrEqualTo(4L * MIB);
        device = PloopDevice.open(List.of(image), false, io);
        assertThat(read(device, 3L * MIB, 4096)).containsOnly(0);
    }

    private void mountBindfs() throws Exception {
        Path log = dir.resolve("bindfs.log");
        // direct_io: no page cache on the mount, so every read reaches the (dead) daemon
        bindfs = new ProcessBuilder("bindfs", "-f", "-o", "direct_io", source.toString(), mountPoint.toString())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!isMounted(mountPoint)) {
            if (!bindfs.isAlive()) {
                fail("bindfs exited with " + bindfs.exitValue() + ": " + Files.readString(log));
            }
            if (System.nanoTime() > deadline) {
                fail("bindfs did not mount " + mountPoint + " within 10 s: " + Files.readString(log));
            }
            Thread.sleep(20);
        }
    }

    private void unmountLazily() throws Exception {
        if (PloopTesting.run("fusermount3", "-u", "-z", mountPoint.toString()).exitCode() != 0) {
            PloopTesting.run("umount", "-l", mountPoint.toString());
        }
        assertThat(isMounted(mountPoint)).as("%s unmounted", mountPoint).isFalse();
    }

    /** Whether a FUSE filesystem is mounted at {@code path}, by /proc/self/mountinfo (field 5 is the mount point). */
    private static boolean isMounted(Path path) throws IOException {
        String target = path.toAbsolutePath().toString().replace(" ", "\\040");
        for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
            String[] fields = line.split(" ");
            if (fields.length > 4 && fields[4].equals(target) && line.contains(" - fuse")) {
                return true;
            }
        }
        return false;
    }
}
