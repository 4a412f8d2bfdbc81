package org.rtarget.it;

import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The real server, started as its own process from the packaged jar with a configuration file,
 * the way an operator runs it. Its output goes to a log file that tests can read and that is
 * printed when something goes wrong.
 */
public final class ServerProcess implements AutoCloseable {
    private static final Pattern LISTENING = Pattern.compile("listening for iSCSI on (\\S+):(\\d+)");
    private static final Pattern ADMIN = Pattern.compile("admin API and /metrics on http://(\\S+)/");

    private final Process process;
    private final Path log;
    private final Path config;
    private final int port;
    private final String admin;

    private ServerProcess(Process process, Path log, Path config, int port, String admin) {
        this.process = process;
        this.log = log;
        this.config = config;
        this.port = port;
        this.admin = admin;
    }

    /** The packaged server jar (built by the target-server module before these tests run). */
    public static Path jar() {
        Path jar = Path.of(System.getProperty("rtarget.jar", "../target-server/target/iscsi-target.jar"));
        if (!Files.isRegularFile(jar)) {
            fail("server jar missing: " + jar.toAbsolutePath() + " (build target-server first)");
        }
        return jar;
    }

    /** The java binary running these tests (a JDK 25). */
    public static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    /** The command line that runs the CLI with the given arguments. */
    public static List<String> cli(String... args) {
        List<String> cmd = new ArrayList<>(List.of(java(), "--enable-native-access=ALL-UNNAMED", "-jar",
                jar().toString()));
        cmd.addAll(List.of(args));
        return cmd;
    }

    /**
     * Writes {@code yaml} to {@code dir/targets.yaml} and serves it. Portals in the YAML should use
     * port 0: the real port is read from the server's log.
     */
    public static ServerProcess start(Path dir, String yaml) throws IOException, InterruptedException {
        return start(dir, yaml, new String[0]);
    }

    /** As {@link #start(Path, String)}, with more options for {@code serve}. */
    public static ServerProcess start(Path dir, String yaml, String... serveOptions)
            throws IOException, InterruptedException {
        Files.createDirectories(dir);
        Path config = dir.resolve("targets.yaml");
        Files.writeString(config, yaml);
        Path log = dir.resolve("server.log");
        List<String> args = new ArrayList<>(List.of("serve", "--config", config.toString()));
        args.addAll(List.of(serveOptions));
        ProcessBuilder pb = new ProcessBuilder(cli(args.toArray(String[]::new)))
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .directory(dir.toFile());
        Process process = pb.start();
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            String text = Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
            Matcher m = LISTENING.matcher(text);
            Matcher a = ADMIN.matcher(text);
            if (m.find() && a.find()) {
                return new ServerProcess(process, log, config, Integer.parseInt(m.group(2)), a.group(1));
            }
            if (!process.isAlive()) {
                fail("server exited with status " + process.exitValue() + " before listening:\n" + text);
            }
            Thread.sleep(50);
        }
        process.destroyForcibly();
        fail("server did not start listening within 30 s:\n" + Files.readString(log));
        return null;
    }

    public int port() {
        return port;
    }

    /** The admin endpoint as HOST:PORT. */
    public String adminAddress() {
        return admin;
    }

    public Admin admin() {
        return new Admin(admin);
    }

    public Path config() {
        return config;
    }

    public String portal() {
        return "127.0.0.1:" + port;
    }

    /** An iscsi:// URL for libiscsi and QEMU. */
    public String url(String iqn, int lun) {
        return "iscsi://127.0.0.1:" + port + "/" + iqn + "/" + lun;
    }

    public Process process() {
        return process;
    }

    public long pid() {
        return process.pid();
    }

    public String log() {
        try {
            return Files.readString(log, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    /** Keeps a copy of the log in target/server-logs for a look after the run (temp dirs vanish). */
    private void keepLog() {
        try {
            Path kept = Path.of("target", "server-logs");
            Files.createDirectories(kept);
            Files.copy(log, kept.resolve("server-" + process.pid() + ".log"),
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            // only a convenience
        }
    }

    public boolean alive() {
        return process.isAlive();
    }

    /** Stops the server as an operator would (SIGTERM) and waits for it. */
    @Override
    public void close() throws InterruptedException {
        keepLog();
        process.destroy();
        if (!process.waitFor(15, java.util.concurrent.TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor();
            fail("server did not stop within 15 s of SIGTERM\n" + log());
        }
    }
}
