package org.rtarget.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * Real storage that fails the ways the product is for: a bindfs (FUSE) mount of a folder. Killing
 * the daemon makes every file under it fail with ENOTCONN (a crash); stopping it (SIGSTOP) makes
 * every request hang with no errno until it is continued (a stall). Mounted with direct_io, so no
 * page cache hides either. Needs bindfs and fuse3; fails rather than skips without them.
 */
public final class BindfsMount implements AutoCloseable {
    private final Path source;
    private final Path mountPoint;
    private final Path log;
    private Process daemon;

    public BindfsMount(Path source, Path mountPoint) throws Exception {
        requireOnPath("bindfs");
        requireOnPath("fusermount3");
        if (!Files.exists(Path.of("/dev/fuse"))) {
            fail("/dev/fuse is missing: this test needs FUSE (install fuse3; in a container pass --device /dev/fuse)");
        }
        this.source = Files.createDirectories(source);
        this.mountPoint = Files.createDirectories(mountPoint);
        this.log = source.resolveSibling(mountPoint.getFileName() + "-bindfs.log");
        mount();
    }

    public Path path() {
        return mountPoint;
    }

    public Path source() {
        return source;
    }

    public void mount() throws Exception {
        daemon = new ProcessBuilder("bindfs", "-f", "-o", "direct_io", source.toString(), mountPoint.toString())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!isMounted()) {
            if (!daemon.isAlive()) {
                fail("bindfs exited with " + daemon.exitValue() + ": " + Files.readString(log));
            }
            if (System.nanoTime() > deadline) {
                fail("bindfs did not mount " + mountPoint + " within 10 s: " + Files.readString(log));
            }
            Thread.sleep(20);
        }
    }

    /** SIGSTOP: requests to the mount hang, with no error, until {@link #cont()}. */
    public void stop() throws Exception {
        signal("STOP");
    }

    /** SIGCONT: the stopped daemon answers again, the hung requests first. */
    public void cont() throws Exception {
        signal("CONT");
    }

    /** SIGKILL: the daemon dies without unmounting; files under the mount fail with ENOTCONN. */
    public void kill() throws Exception {
        daemon.destroyForcibly();
        assertThat(daemon.waitFor(5, TimeUnit.SECONDS)).as("bindfs killed").isTrue();
    }

    /** A dead mount replaced by a live one. */
    public void remount() throws Exception {
        unmountLazily();
        mount();
    }

    private void signal(String name) throws Exception {
        assertThat(run("kill", "-" + name, Long.toString(daemon.pid()))).as("kill -%s bindfs", name).isZero();
    }

    private void unmountLazily() throws Exception {
        if (run("fusermount3", "-u", "-z", mountPoint.toString()) != 0) {
            run("umount", "-l", mountPoint.toString());
        }
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

    private boolean isMounted() throws IOException {
        String target = mountPoint.toAbsolutePath().toString().replace(" ", "\\040");
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

    @Override
    public void close() throws Exception {
        if (daemon != null && daemon.isAlive()) {
            run("kill", "-CONT", Long.toString(daemon.pid())); // a stopped daemon would not die of SIGTERM
            daemon.destroyForcibly();
            daemon.waitFor(5, TimeUnit.SECONDS);
        }
        if (isMounted()) {
            unmountLazily();
        }
    }
}
