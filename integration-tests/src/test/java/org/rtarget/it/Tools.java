package org.rtarget.it;

import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Runs the real tools an administrator uses (libiscsi's iscsi-* tools, qemu-io, ...). A missing
 * tool fails the test with the package to install: CI installs them, and nothing is skipped.
 */
public final class Tools {
    private Tools() {
    }

    /** The outcome of a command. */
    public record Result(int exitCode, String output) {
        public Result ok() {
            if (exitCode != 0) {
                fail("command failed with status " + exitCode + ":\n" + output);
            }
            return this;
        }
    }

    /** Fails the test unless {@code tool} is on the PATH. */
    public static void require(String tool, String debianPackage) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            if (Files.isExecutable(Path.of(dir, tool))) {
                return;
            }
        }
        fail(tool + " is not installed: apt-get install " + debianPackage + " (.ci/run installs it)");
    }

    public static Result run(long timeoutSeconds, List<String> command) throws IOException, InterruptedException {
        return run(timeoutSeconds, command, null);
    }

    /** Runs a command (stdin from {@code input} if given), stdout and stderr merged. */
    public static Result run(long timeoutSeconds, List<String> command, String input)
            throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        // Drained on a thread of its own: the common pool may be busy with a test's background job.
        CompletableFuture<String> out = new CompletableFuture<>();
        Thread.ofVirtual().start(() -> out.complete(drain(p.getInputStream())));
        if (input != null) {
            try (var stdin = p.getOutputStream()) {
                stdin.write(input.getBytes(StandardCharsets.UTF_8));
            }
        } else {
            p.getOutputStream().close();
        }
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            p.waitFor();
            fail("command timed out after " + timeoutSeconds + " s: " + String.join(" ", command) + "\n"
                    + out.getNow(""));
        }
        return new Result(p.exitValue(), out.join());
    }

    public static Result run(long timeoutSeconds, String... command) throws IOException, InterruptedException {
        return run(timeoutSeconds, List.of(command));
    }

    private static String drain(InputStream in) {
        try {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(output lost: " + e + ")";
        }
    }

    /** The shared folder beside the project (../shared): tools, captures, docs. */
    public static Path shared() {
        Path p = Path.of(System.getProperty("rtarget.shared", "../../shared"));
        if (!Files.isDirectory(p)) {
            fail("the shared folder is missing: " + p.toAbsolutePath());
        }
        return p;
    }

    public static List<String> list(String... parts) {
        return new ArrayList<>(List.of(parts));
    }
}
