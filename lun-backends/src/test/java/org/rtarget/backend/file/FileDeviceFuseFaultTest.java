package org.rtarget.backend.file;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
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
 * A real storage failure: the image sits on a bindfs (FUSE) mount whose daemon is killed, so the
 * kernel answers ENOTCONN; after a remount, recover() brings the device back. Needs bindfs, fuse3
 * and root (or FUSE rights); it fails rather than skips without them.
 */
@Timeout(60)
class FileDeviceFuseFaultTest {

    private static final int MIB = 1 << 20;

    @TempDir
    Path dir;

    private Path source;
    private Path mountPoint;
    private Process bindfs;
    private final ExecutorService io = Executors.newFixedThreadPool(2, r -> new Thread(r, "file-io"));
    private FileDevice device;

    @BeforeEach
    void setUp() throws IOException {
        requireOnPath("bindfs");
        requireOnPath("fusermount3");
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
    void deadFuseDaemonFailsWithEnotconnAndRecoverAfterRemountServesTheData() throws Exception {
        mountBindfs();
        device = FileDevice.open(mountPoint.resolve("disk.img"), 4L * MIB, 4096, false, io);
        AtomicInteger recovered = new AtomicInteger();
        device.attach(recovered::incrementAndGet);

        byte[] data = new byte[64 * 1024];
        new Random(7).nextBytes(data);
        write(8192, ByteBuffer.allocateDirect(data.length).put(data).flip()).awaitSuccess();
        assertThat(readBack(8192, data.length)).isEqualTo(data);

        bindfs.destroyForcibly(); // SIGKILL: the daemon dies without unmounting
        assertThat(bindfs.waitFor(5, TimeUnit.SECONDS)).as("bindfs killed").isTrue();

        IoResult read = new IoResult();
        device.read(8192, ByteBuffer.allocateDirect(4096), read);
        IoFailure readFailure = read.awaitFailure();
        assertThat(readFailure.errno()).isEqualTo(Errno.ENOTCONN);
        assertThat(readFailure.kind()).isEqualTo(IoFailure.Kind.UNAVAILABLE);
        assertThat(readFailure.message()).contains("pread", "disk.img");

        IoFailure writeFailure = write(0, ByteBuffer.allocateDirect(4096)).awaitFailure();
        assertThat(writeFailure.errno()).isEqualTo(Errno.ENOTCONN);
        assertThat(writeFailure.kind()).isEqualTo(IoFailure.Kind.UNAVAILABLE);
        assertThat(recovered.get()).as("no recovery signalled yet").isZero();

        unmountLazily();
        mountBindfs();
        device.recover(null);

        assertThat(recovered.get()).isEqualTo(1);
        assertThat(readBack(8192, data.length)).isEqualTo(data);
        byte[] more = FileDeviceTest.filled(4096, (byte) 'R');
        write(0, ByteBuffer.allocateDirect(4096).put(0, more)).awaitSuccess();
        assertThat(Arrays.copyOf(Files.readAllBytes(source.resolve("disk.img")), 4096)).isEqualTo(more);
    }

    private IoResult write(long offset, ByteBuffer src) {
        IoResult result = new IoResult();
        device.write(offset, src, result);
        return result;
    }

    private byte[] readBack(long offset, int length) {
        ByteBuffer dst = ByteBuffer.allocateDirect(length);
        IoResult result = new IoResult();
        device.read(offset, dst, result);
        result.awaitSuccess();
        return FileDeviceTest.bytes(dst);
    }

    private void mountBindfs() throws Exception {
        Path log = dir.resolve("bindfs.log");
        // direct_io: no kernel page cache on the mount, so every read reaches the daemon (a cached
        // read would rightly succeed after the kill, and hide the failure this test is about)
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
        if (run("fusermount3", "-u", "-z", mountPoint.toString()) != 0) {
            run("umount", "-l", mountPoint.toString());
        }
        assertThat(isMounted(mountPoint)).as("%s unmounted", mountPoint).isFalse();
    }

    private static int run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        int rc = p.waitFor();
        if (rc != 0) {
            System.err.println(String.join(" ", command) + " -> " + rc + ": " + out);
        }
        return rc;
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

    private static void requireOnPath(String tool) {
        for (String entry : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(File.pathSeparator)) {
            if (Files.isExecutable(Path.of(entry, tool))) {
                return;
            }
        }
        fail(tool + " not found on PATH: this test needs a real FUSE mount; install the packages bindfs and fuse3"
                + " (the project's CI installs them)");
    }
}
