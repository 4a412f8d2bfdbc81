package org.rtarget.it;

import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A bindfs (FUSE) mount of a folder: real storage that can fail the way distributed storage does.
 * Killing the bindfs daemon with SIGKILL makes every file under the mount fail with ENOTCONN until
 * the mount is replaced. Mounted with direct_io so no page cache hides the failure.
 */
public final class FuseMount implements AutoCloseable {
    private final Path source;
    private final Path mountPoint;
    private Process daemon;

    public FuseMount(Path source, Path mountPoint) throws IOException, InterruptedException {
        Tools.require("bindfs", "bindfs");
        Tools.require("fusermount3", "fuse3");
        this.source = source;
        this.mountPoint = mountPoint;
        Files.createDirectories(source);
        Files.createDirectories(mountPoint);
        mount();
    }

    public Path path() {
        return mountPoint;
    }

    /** Starts a bindfs daemon on the mount point and waits until the mount is there. */
    public void mount() throws IOException, InterruptedException {
        daemon = new ProcessBuilder("bindfs", "-f", "-o", "direct_io", source.toString(), mountPoint.toString())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
        for (int i = 0; i < 100; i++) {
            if (mounted()) {
                return;
            }
            if (!daemon.isAlive()) {
                fail("bindfs exited with status " + daemon.exitValue() + " (is /dev/fuse available?)");
            }
            Thread.sleep(50);
        }
        fail("bindfs did not mount " + mountPoint + " within 5 s");
    }

    /** SIGKILLs the daemon: files under the mount now fail with ENOTCONN. */
    public void killDaemon() throws InterruptedException {
        daemon.destroyForcibly();
        daemon.waitFor(5, TimeUnit.SECONDS);
    }

    /** SIGSTOP: requests to the mount hang, with no errno, until {@link #cont()} (a stall). */
    public void stop() throws IOException, InterruptedException {
        Tools.run(10, "kill", "-STOP", Long.toString(daemon.pid())).ok();
    }

    /** SIGCONT: the stopped daemon answers again, what hung first. */
    public void cont() throws IOException, InterruptedException {
        Tools.run(10, "kill", "-CONT", Long.toString(daemon.pid())).ok();
    }

    /** Replaces a dead mount with a live one (lazy unmount, new daemon). */
    public void remount() throws IOException, InterruptedException {
        unmount();
        mount();
    }

    private void unmount() throws IOException, InterruptedException {
        Tools.run(30, "fusermount3", "-u", "-z", mountPoint.toString());
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
            Tools.run(10, "kill", "-CONT", Long.toString(daemon.pid())); // a stopped daemon ignores SIGTERM
            daemon.destroy();
            daemon.waitFor(5, TimeUnit.SECONDS);
        }
        unmount();
    }
}
