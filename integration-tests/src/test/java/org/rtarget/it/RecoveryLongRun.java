package org.rtarget.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The long run of recovery under crashes and stalls (not part of CI: about an hour). Run it with
 *
 * <pre>bin/run-tests -Dit.test=RecoveryLongRun -Dtest=none -Dsurefire.failIfNoSpecifiedTests=false</pre>
 *
 * and scale it with {@code -Dlongrun.crashes=100 -Dlongrun.stalls=100 -Dlongrun.driverKills=100
 * -Dlongrun.driverStalls=20 -Dlongrun.kernelOutages=10} (the defaults). Each scenario prints what
 * the initiators were told; it fails on a CHECK CONDITION where the mode promises none, and on
 * any block that does not hold its last acknowledged write.
 */
class RecoveryLongRun {
    static final String IQN = "iqn.2026-12.org.rtarget.test:longrun";

    @TempDir
    Path dir;

    private static int count(String name, int fallback) {
        return Integer.getInteger("longrun." + name, fallback);
    }

    /** A file LUN on bindfs through crash outages (kill -9 of the daemon) and stall outages (SIGSTOP 2-20 s). */
    @Test
    void fileLunThroughCrashAndStallOutages() throws Exception {
        int crashes = count("crashes", 100);
        int stalls = count("stalls", 100);
        Random random = new Random(12);
        try (FuseMount storage = new FuseMount(dir.resolve("src"), dir.resolve("mnt"));
             ServerProcess server = ServerProcess.start(dir.resolve("server"), """
                     server:
                       portals: ["127.0.0.1:0"]
                       admin: "127.0.0.1:0"
                     targets:
                       - iqn: %s
                         luns:
                           - {lun: 0, name: disk, backend: file, path: %s, size: 64M, write-cache: false}
                     """.formatted(IQN, storage.path().resolve("disk.img")))) {
            Admin admin = server.admin();
            long start = System.nanoTime();
            try (VerifyingWorkload load = new VerifyingWorkload(server.port(), IQN, 0, 4)) {
                for (int i = 0; i < crashes; i++) {
                    awaitProgress(load, 200);
                    storage.killDaemon();
                    admin.awaitStandby("disk", "on", 60);
                    storage.remount();
                    assertThat(admin.post("/api/targets/" + IQN + "/luns/0/recover").statusCode()).isEqualTo(200);
                }
                System.out.printf("RecoveryLongRun file: %d crash outages: %s%n", crashes, load.summary());
                for (int i = 0; i < stalls; i++) {
                    awaitProgress(load, 200);
                    storage.stop();
                    Thread.sleep(2000 + random.nextInt(18_001)); // the outage itself: 2-20 s
                    storage.cont();
                }
                awaitProgress(load, 500);
                load.close();
                System.out.printf("RecoveryLongRun file: %d crash + %d stall outages in %d s: %s%n", crashes, stalls,
                        TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start), load.summary());
                assertThat(load.problems()).isEmpty();
            }
        }
    }

    /** A ublk LUN in reissue mode through driver kill -9 and driver stalls past request-timeout. */
    @Test
    void ublkLunThroughDriverKillsAndStalls() throws Exception {
        int kills = count("driverKills", 100);
        int stalls = count("driverStalls", 20);
        Path image = dir.resolve("ublk.img");
        String command = "[\"%s\", \"--enable-native-access=ALL-UNNAMED\", \"-jar\", \"%s\", \"ublk-driver\", \"--file\", \"%s\"]"
                .formatted(ServerProcess.java(), ServerProcess.jar().toAbsolutePath(), image);
        try (ServerProcess server = ServerProcess.start(dir.resolve("server"), """
                server:
                  portals: ["127.0.0.1:0"]
                  admin: "127.0.0.1:0"
                targets:
                  - iqn: %s
                    luns:
                      - lun: 0
                        name: fast
                        backend: ublk
                        size: 64M
                        driver: {command: %s, recovery: reissue, restart-backoff: 200ms, request-timeout: 2s}
                """.formatted(IQN, command))) {
            Admin admin = server.admin();
            awaitLive(admin);
            long start = System.nanoTime();
            try (VerifyingWorkload load = new VerifyingWorkload(server.port(), IQN, 0, 4)) {
                for (int i = 0; i < kills; i++) {
                    awaitProgress(load, 200);
                    driver(image).destroyForcibly();
                    awaitLive(admin);
                }
                for (int i = 0; i < stalls; i++) {
                    awaitProgress(load, 200);
                    ProcessHandle driver = driver(image);
                    Tools.run(10, "kill", "-STOP", Long.toString(driver.pid())).ok();
                    driver.onExit().get(120, TimeUnit.SECONDS); // the target ends it past request-timeout
                    awaitLive(admin);
                }
                awaitProgress(load, 500);
                load.close();
                System.out.printf("RecoveryLongRun ublk: %d driver kills + %d driver stalls in %d s: %s%n", kills,
                        stalls, TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start), load.summary());
                assertThat(load.problems()).isEmpty();
            }
        }
    }

    /** The kernel initiator, ext4 with checksums, through stall and crash outages. */
    @Test
    void kernelInitiatorThroughStallsAndCrashes() throws Exception {
        int outages = count("kernelOutages", 10);
        Path script = dir.resolve("standby-outage.sh");
        try (InputStream in = RecoveryLongRun.class.getResourceAsStream("/guest/standby-outage.sh")) {
            Files.copy(in, script);
        }
        Random random = new Random(13);
        try (FuseMount storage = new FuseMount(dir.resolve("storage"), dir.resolve("mnt"));
             ServerProcess server = ServerProcess.start(dir.resolve("server"), """
                     server:
                       portals: ["127.0.0.1:0"]
                       admin: "127.0.0.1:0"
                     targets:
                       - iqn: %s
                         luns:
                           - {lun: 0, name: kernel, backend: file, path: %s, size: 256M, write-cache: false}
                     """.formatted(IQN, storage.path().resolve("disk.img")))) {
            Admin admin = server.admin();
            Process vm = new ProcessBuilder(Tools.shared().resolve("tools/kernel-initiator").toString(),
                    "--portal", server.portal(), "--iqn", IQN, "--script", script.toString(), "--timeout", "3600",
                    "--env", "WRITE_SECONDS=" + (outages * 2 * 25 + 60)).redirectErrorStream(true).start();
            StringBuilder console = new StringBuilder();
            CountDownLatch writing = new CountDownLatch(1);
            Thread reader = Thread.ofVirtual().start(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(vm.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String line; (line = r.readLine()) != null; ) {
                        synchronized (console) {
                            console.append(line).append('\n');
                        }
                        if (line.contains("KI: [standby] writing")) {
                            writing.countDown();
                        }
                    }
                } catch (java.io.IOException e) {
                    // the VM is gone
                }
            });
            try {
                assertThat(writing.await(600, TimeUnit.SECONDS)).as("the guest started writing").isTrue();
                for (int i = 0; i < outages; i++) {
                    Thread.sleep(5000); // writing between outages
                    storage.stop();
                    Thread.sleep(2000 + random.nextInt(18_001)); // a stall of 2-20 s: below the guest's 30 s timeout
                    storage.cont();
                    Thread.sleep(5000);
                    storage.killDaemon();
                    admin.awaitStandby("kernel", "on", 60);
                    Thread.sleep(2000 + random.nextInt(8_001));
                    storage.remount();
                    assertThat(admin.post("/api/targets/" + IQN + "/luns/0/recover").statusCode()).isEqualTo(200);
                }
                assertThat(vm.waitFor(3600, TimeUnit.SECONDS)).as("the VM finished").isTrue();
                reader.join(10_000);
            } finally {
                vm.destroyForcibly();
            }
            String out;
            synchronized (console) {
                out = console.toString();
            }
            String tail = out.length() > 5000 ? out.substring(out.length() - 5000) : out;
            System.out.printf("RecoveryLongRun kernel: %d stalls + %d crashes:%n%s%n", outages, outages,
                    out.lines().filter(l -> l.contains("KI")).reduce("", (a, b) -> a + b + "\n"));
            assertThat(out).as(tail).contains("KI-RESULT: PASS", "no I/O error");
        }
    }

    private static void awaitProgress(VerifyingWorkload load, int commands) throws InterruptedException {
        long target = load.good.get() + commands;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(300);
        while (load.good.get() < target) {
            assertThat(System.nanoTime()).as("the workload makes progress; %s; %s", load.summary(), load.problems())
                    .isLessThan(deadline);
            Thread.sleep(20);
        }
    }

    private static ProcessHandle driver(Path image) {
        Optional<ProcessHandle> d = ProcessHandle.allProcesses()
                .filter(p -> p.info().commandLine().map(c -> c.contains("ublk-driver") && c.contains(image.toString()))
                        .orElse(false))
                .filter(ProcessHandle::isAlive)
                .findFirst();
        return d.orElseThrow(() -> new AssertionError("no driver running"));
    }

    private static void awaitLive(Admin admin) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (!admin.lun("fast").path("driverState").asText().equals("LIVE")) {
            assertThat(System.nanoTime()).as("the ublk LUN becomes LIVE").isLessThan(deadline);
            Thread.sleep(20);
        }
    }
}
