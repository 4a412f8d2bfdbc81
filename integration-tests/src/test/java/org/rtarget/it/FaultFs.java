package org.rtarget.it;

import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A small pass-through FUSE file system (faultfs.py, on Debian's python3-fusepy) whose fsync
 * fails on demand: the writeback failure ("fsyncgate") that a target must neither hide behind BUSY
 * nor forget after a recovery. Like {@link FuseMount} it can also be killed (a crash) or stopped
 * (a stall).
 */
public final class FaultFs implements AutoCloseable {
    private static final String PYTHON = "/usr/bin/python3"; // Debian's, with its fusepy module
    private final Path source;
    private final Path mountPoint;
    private final Path control;
    private final Path script;
    private final Path log;
    private Process daemon;

    public FaultFs(Path dir) throws IOException, InterruptedException {
        Tools.require("fusermount3", "fuse3");
        if (Tools.run(10, PYTHON, "-c", "import fusepy").exitCode() != 0) {
            fail("faultfs needs Debian's python3-fusepy (apt-get install python3-fusepy; .ci/run installs it)");
        }
        this.source = Files.createDirectories(dir.resolve("faultfs-src"));
        this.mountPoint = Files.createDirectories(dir.resolve("faultfs-mnt"));
        this.control = Files.createDirectories(dir.resolve("faultfs-control"));
        this.log = dir.resolve("faultfs.log");
        this.script = dir.resolve("faultfs.py");
        try (InputStream in = FaultFs.class.getResourceAsStream("/faultfs/faultfs.py")) {
            Files.copy(in, script);
        }
        mount();
    }

    public Path path() {
        return mountPoint;
    }

    private void mount() throws IOException, InterruptedException {
        daemon = new ProcessBuilder(PYTHON, script.toString(), source.toString(), mountPoint.toString(),
                control.toString()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        for (int i = 0; i < 200; i++) {
            if (mounted()) {
                return;
            }
            if (!daemon.isAlive()) {
                fail("faultfs exited with status " + daemon.exitValue() + ": " + Files.readString(log));
            }
            Thread.sleep(50);
        }
        fail("faultfs did not mount " + mountPoint + " within 10 s: " + Files.readString(log));
    }

    /** From now on fsync and fdatasync of every file fail with EIO. */
    public void failFsync() throws IOException {
        Files.writeString(control.resolve("fail-fsync"), "EIO");
    }

    /** fsync works again. */
    public void healFsync() throws IOException {
        Files.deleteIfExists(control.resolve("fail-fsync"));
    }

    private boolean mounted() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/mounts"))) {
            String[] f = line.split(" ");
            if (f.length > 2 && f[1].equals(mountPoint.toString()) && f[2].startsWith("fuse")) {
                return true;
            }
        }
        return false;
    }

    @Override
    public void close() throws IOException, InterruptedException {
        if (daemon != null && daemon.isAlive()) {
            daemon.destroy();
            daemon.waitFor(5, TimeUnit.SECONDS);
        }
        Tools.run(30, "fusermount3", "-u", "-z", mountPoint.toString());
    }
}
