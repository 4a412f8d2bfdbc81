package org.rtarget.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ublk LUNs served by the reference driver as a separate process, started and restarted by the
 * target's supervisor, killed with SIGKILL while real initiators do I/O.
 */
class UblkIT {
    static final String IQN = "iqn.2026-11.org.rtarget.test:ublk";
    static final int BLOCK = 512;
    static final int BUSY = 0x08;
    static final int TASK_SET_FULL = 0x28;
    static final int CHECK_CONDITION = 0x02;

    @TempDir
    Path dir;

    /** The YAML of a target whose LUN 0 is a ublk LUN driven by the reference driver. */
    private String config(String recovery, Path image, String extraDriverArgs, String extraLuns) {
        List<String> args = new ArrayList<>(List.of("--file", image.toString()));
        if (!extraDriverArgs.isEmpty()) {
            args.addAll(List.of(extraDriverArgs.split(" ")));
        }
        return config(recovery, args, extraLuns);
    }

    /** LUN 0 "fast": a ublk LUN whose supervisor runs the reference driver with {@code driverArgs}. */
    private String config(String recovery, List<String> driverArgs, String extraLuns) {
        return config(recovery, driverArgs, extraLuns, "60s");
    }

    private String config(String recovery, List<String> driverArgs, String extraLuns, String requestTimeout) {
        StringBuilder command = new StringBuilder("[\"").append(ServerProcess.java())
                .append("\", \"--enable-native-access=ALL-UNNAMED\", \"-jar\", \"").append(ServerProcess.jar().toAbsolutePath())
                .append("\", \"ublk-driver\"");
        for (String arg : driverArgs) {
            command.append(", \"").append(arg).append('"');
        }
        command.append(']');
        return """
                server:
                  portals: ["127.0.0.1:0"]
                  admin: "127.0.0.1:0"
                  state-dir: st
                targets:
                  - iqn: %s
                    luns:
                      - lun: 0
                        name: fast
                        backend: ublk
                        size: 256M
                        driver:
                          command: %s
                          recovery: %s
                          restart-backoff: 200ms
                          request-timeout: %s
                %s
                """.formatted(IQN, command, recovery, requestTimeout, extraLuns);
    }

    private static Optional<ProcessHandle> driverProcess(Path image) {
        return ProcessHandle.allProcesses()
                .filter(p -> p.info().commandLine().map(c -> c.contains("ublk-driver") && c.contains(image.toString()))
                        .orElse(false))
                .findFirst();
    }

    private static void awaitLive(Admin admin, int seconds) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!admin.lun("fast").path("driverState").asText().equals("LIVE")) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the ublk LUN did not become LIVE; state "
                        + admin.lun("fast").path("driverState").asText());
            }
            Thread.sleep(50);
        }
    }

    @Test
    void reissueModeSurvivesTwentyDriverKillsUnderQemu() throws Exception {
        Tools.require("qemu-io", "qemu-utils qemu-block-extra");
        Path image = dir.resolve("fast.img");
        try (ServerProcess server = ServerProcess.start(dir.resolve("server"), config("reissue", image, "", ""))) {
            Admin admin = server.admin();
            awaitLive(admin, 60);
            // Rounds of a write+verify job (400 regions of 32 KiB, each round its own patterns) run
            // back to back while the driver is killed 20 times at random moments.
            java.util.concurrent.atomic.AtomicBoolean killing = new java.util.concurrent.atomic.AtomicBoolean(true);
            java.util.concurrent.atomic.AtomicInteger lastRound = new java.util.concurrent.atomic.AtomicInteger(-1);
            CompletableFuture<Integer> jobs = new CompletableFuture<>();
            Thread.ofVirtual().start(() -> {
                try {
                    int round = 0;
                    // Keep going while the killer works, and one full round after its last kill.
                    for (boolean more = true; more; round++) {
                        more = killing.get();
                        List<QemuIo.Region> regions = regions(round);
                        QemuIo.run(List.of("-f", "raw", server.url(IQN, 0)), QemuIo.writeThenVerify(regions),
                                regions.size(), regions.size());
                        lastRound.set(round);
                    }
                    jobs.complete(round);
                } catch (Exception | AssertionError e) {
                    jobs.completeExceptionally(e);
                }
            });
            Random random = new Random(7);
            for (int kill = 0; kill < 20; kill++) {
                Thread.sleep(100 + random.nextInt(500));
                ProcessHandle driver = driverProcess(image).orElseThrow(() -> new AssertionError("no driver running"));
                driver.destroyForcibly(); // SIGKILL: the driver dies, often with requests in its hands
                driver.onExit().get(10, TimeUnit.SECONDS);
                awaitNewLiveDriver(admin, image, driver.pid());
                assertThat(jobs).as("the QEMU job is still fine after kill %d", kill + 1).satisfies(
                        j -> assertThat(j.isCompletedExceptionally()).isFalse());
            }
            killing.set(false);
            int rounds;
            try {
                rounds = jobs.get(600, TimeUnit.SECONDS);
            } catch (java.util.concurrent.ExecutionException e) {
                // What the driver, the device and the standby gate did is in the server's log.
                throw new AssertionError("the QEMU job failed; driver, device and standby events:\n"
                        + server.log().lines().filter(l -> l.contains("ublk LUN") || l.contains("standby"))
                                .collect(java.util.stream.Collectors.joining("\n")), e.getCause());
            }
            assertThat(rounds).isGreaterThanOrEqualTo(2);
            assertThat(server.log().split("the driver is gone: QUIESCED").length - 1).isEqualTo(20);
            assertThat(server.log()).contains("ended user recovery");
            // Zero mismatches: the image holds the last round's bytes.
            try (var file = new java.io.RandomAccessFile(image.toFile(), "r")) {
                for (QemuIo.Region r : regions(lastRound.get())) {
                    byte[] b = new byte[r.length()];
                    file.seek(r.offset());
                    file.readFully(b);
                    for (byte x : b) {
                        assertThat(x & 0xff).as("image at %d", r.offset()).isEqualTo(r.pattern());
                    }
                }
            }
        }
    }

    @Test
    void theDriverServesAPloopChainAndCrashesLeaveItConsistent() throws Exception {
        Tools.require("qemu-io", "qemu-utils qemu-block-extra");
        Path base = dir.resolve("base.hds");
        Path top = dir.resolve("top.hds");
        for (Path delta : List.of(base, top)) { // an empty image of the same geometry is a snapshot's top delta
            Tools.run(60, ServerProcess.cli("ploop", "create", delta.toString(), "--size", "256M")).ok();
        }
        String chain = base + "," + top;
        try (ServerProcess server = ServerProcess.start(dir.resolve("server"),
                config("reissue", List.of("--ploop", chain), ""))) {
            Admin admin = server.admin();
            awaitLive(admin, 60);
            List<QemuIo.Region> first = regions(0);
            QemuIo.run(List.of("-f", "raw", server.url(IQN, 0)), QemuIo.writeThenVerify(first), first.size(), first.size());
            // kill -9 with the top delta open and marked in use: the next driver opens it all the same
            ProcessHandle driver = driverProcess(top).orElseThrow();
            driver.destroyForcibly();
            driver.onExit().get(10, TimeUnit.SECONDS);
            awaitNewLiveDriver(admin, top, driver.pid());
            List<QemuIo.Region> second = regions(1);
            QemuIo.run(List.of("-f", "raw", server.url(IQN, 0)), QemuIo.writeThenVerify(second), second.size(), second.size());
            // The first round's bytes that the second did not overwrite read back through the new driver.
            List<String> verify = new ArrayList<>();
            for (QemuIo.Region r : first) {
                verify.addAll(List.of("-c", "read -P " + r.pattern() + " " + r.offset() + " 4k"));
            }
            QemuIo.run(List.of("-f", "raw", server.url(IQN, 0)), verify, 0, first.size());
        }
        String topInfo = Tools.run(60, ServerProcess.cli("ploop", "info", top.toString())).ok().output();
        assertThat(topInfo).contains("in use:    no").doesNotContain("clusters:  0 of");
        assertThat(Tools.run(60, ServerProcess.cli("ploop", "info", base.toString())).ok().output())
                .as("writes go to the top delta").contains("clusters:  0 of 256 allocated");
        assertThat(Tools.run(60, ServerProcess.cli("ploop", "check", top.toString())).ok().output())
                .contains("no problems found");
    }

    private static List<QemuIo.Region> regions(int round) {
        List<QemuIo.Region> regions = new ArrayList<>();
        for (int i = 0; i < 400; i++) {
            regions.add(new QemuIo.Region(i * 512L * 1024 + (round % 4) * 4096L, 32 * 1024, 1 + (i * 7 + round * 13) % 254));
        }
        return regions;
    }

    /** Waits until a driver other than {@code oldPid} runs and the device is LIVE again. */
    private static void awaitNewLiveDriver(Admin admin, Path image, long oldPid) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            Optional<ProcessHandle> driver = driverProcess(image);
            if (driver.isPresent() && driver.get().pid() != oldPid
                    && admin.lun("fast").path("driverState").asText().equals("LIVE")) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no new driver got the device LIVE");
            }
            Thread.sleep(20);
        }
    }

    @Test
    void queueModeFailsOnlyTheRequestInTheDriversHands() throws Exception {
        onlyTheRequestInHandFails("queue");
    }

    @Test
    void failIoModeFailsOnlyTheRequestInTheDriversHandsThenAnswersBusy() throws Exception {
        onlyTheRequestInHandFails("fail-io");
    }

    private void onlyTheRequestInHandFails(String mode) throws Exception {
        Path image = dir.resolve("fast.img");
        Path trigger = dir.resolve("crash-now");
        try (ServerProcess server = ServerProcess.start(dir.resolve("server"),
                config(mode, image, "--crash-when-exists " + trigger, ""))) {
            Admin admin = server.admin();
            awaitLive(admin, 60);
            try (RawInitiator raw = RawInitiator.login(server.port(), "iqn.2026-11.org.rtarget.test:ublk-" + mode, IQN)) {
                byte[][] blocks = new byte[10][];
                Random random = new Random(3);
                for (int i = 0; i < 10; i++) {
                    blocks[i] = new byte[8 * BLOCK];
                    random.nextBytes(blocks[i]);
                }
                for (int i = 0; i < 5; i++) {
                    assertThat(raw.write10(0, i * 8L, blocks[i], BLOCK).status()).isZero();
                }
                // The next request the driver receives makes it crash: that request, and only it, fails.
                Files.createFile(trigger);
                RawInitiator.Response inHand = raw.write10(0, 5 * 8L, blocks[5], BLOCK);
                assertThat(inHand.status()).as("the request in the crashed driver's hands").isEqualTo(CHECK_CONDITION);
                assertThat(inHand.senseKey()).as("an error, not BUSY: MEDIUM ERROR").isEqualTo(0x3);
                Files.delete(trigger);
                // Until the new driver is live, media commands are answered BUSY; then they succeed.
                for (int i = 5; i < 10; i++) {
                    RawInitiator.Response r;
                    int tries = 0;
                    do {
                        r = raw.write10(0, i * 8L, blocks[i], BLOCK);
                        if (r.status() == BUSY || r.status() == TASK_SET_FULL) {
                            Thread.sleep(50);
                        }
                    } while ((r.status() == BUSY || r.status() == TASK_SET_FULL) && ++tries < 600);
                    assertThat(r.status()).as("write %d after the crash", i).isZero();
                }
                for (int i = 0; i < 10; i++) {
                    RawInitiator.Response r = raw.read10(0, i * 8L, 8, BLOCK);
                    assertThat(r.status()).isZero();
                    assertThat(r.data()).as("block group %d", i).isEqualTo(blocks[i]);
                }
            }
            assertThat(server.log()).contains("the driver is gone: " + (mode.equals("queue") ? "QUIESCED" : "FAIL_IO"));
        }
    }

    @Test
    void noneModeWithdrawsTheLunTheOtherLunKeepsWorkingAndAReloadBringsItBack() throws Exception {
        Path image = dir.resolve("fast.img");
        try (ServerProcess server = ServerProcess.start(dir.resolve("server"), config("none", image, "",
                "      - {lun: 1, name: other, backend: memory, size: 16M}"))) {
            Admin admin = server.admin();
            awaitLive(admin, 60);
            byte[] pattern = new byte[8 * BLOCK];
            Arrays.fill(pattern, (byte) 0x5A);
            try (RawInitiator raw = RawInitiator.login(server.port(), "iqn.2026-11.org.rtarget.test:ublk-none", IQN)) {
                assertThat(raw.write10(0, 0, pattern, BLOCK).status()).isZero();
                ProcessHandle driver = driverProcess(image).orElseThrow();
                driver.destroyForcibly();
                driver.onExit().get(10, TimeUnit.SECONDS);
                // As a ublk device without recovery: I/O fails, then the LUN goes away. Never BUSY.
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                RawInitiator.Response r;
                do {
                    assertThat(System.nanoTime()).as("LUN 0 still answers after its driver died").isLessThan(deadline);
                    r = raw.read10(0, 0, 8, BLOCK);
                    assertThat(r.status()).as("read of the dead LUN").isEqualTo(CHECK_CONDITION);
                } while (!(r.senseKey() == 0x5 && r.asc() == 0x25)); // LOGICAL UNIT NOT SUPPORTED
                assertThat(raw.reportLuns()).containsExactly(1);
                RawInitiator.Response first = raw.write10(1, 0, new byte[8 * BLOCK], BLOCK);
                assertThat(first.status()).as("first command on the other LUN: the LUN inventory changed")
                        .isEqualTo(CHECK_CONDITION);
                assertThat(first.senseKey()).isEqualTo(0x6);
                assertThat(first.asc()).isEqualTo(0x3F);
                assertThat(first.ascq()).isEqualTo(0x0E);
                assertThat(raw.write10(1, 0, new byte[8 * BLOCK], BLOCK).status()).isZero();
                assertThat(raw.read10(1, 0, 8, BLOCK).status()).isZero();
            }
            assertThat(server.alive()).isTrue();
            assertThat(server.log()).contains("the driver is gone: DEAD").contains("withdrawn");
            assertThat(admin.status().toString()).doesNotContain("\"fast\"");

            // The LUN is still configured: a reload opens it again and its supervisor starts a driver.
            Tools.Result reload = Tools.run(120, ServerProcess.cli("reload", "--admin", server.adminAddress()));
            assertThat(reload.ok().output()).contains("fast");
            awaitLive(admin, 60);
            try (RawInitiator raw = RawInitiator.login(server.port(), "iqn.2026-11.org.rtarget.test:ublk-none", IQN)) {
                assertThat(raw.reportLuns()).containsExactly(0, 1);
                RawInitiator.Response back = raw.read10(0, 0, 8, BLOCK);
                assertThat(back.status()).isZero();
                assertThat(back.data()).as("the write acknowledged before the crash").isEqualTo(pattern);
            }
        }
    }

    /**
     * A driver that stalls (SIGSTOP) with a write in its hands past request-timeout is ended, not
     * its write failed: in reissue mode the write goes to the next driver, the initiator sees no
     * CHECK CONDITION, and nothing of the old driver can land later over newer data.
     */
    @Test
    void aDriverStalledPastRequestTimeoutIsEndedAndItsWriteGoesToTheNextDriver() throws Exception {
        Path image = dir.resolve("fast.img");
        try (ServerProcess server = ServerProcess.start(dir.resolve("server"),
                config("reissue", List.of("--file", image.toString()), "", "2s"));
             RawInitiator raw = RawInitiator.login(server.port(), "iqn.2026-11.org.rtarget.test:ublk-stall", IQN)) {
            Admin admin = server.admin();
            awaitLive(admin, 60);
            byte[] first = new byte[8 * BLOCK];
            Arrays.fill(first, (byte) 1);
            assertThat(raw.write10(0, 0, first, BLOCK).status()).isZero();

            ProcessHandle driver = driverProcess(image).orElseThrow(() -> new AssertionError("no driver running"));
            Tools.run(10, "kill", "-STOP", Long.toString(driver.pid())).ok();
            byte[] second = new byte[8 * BLOCK];
            Arrays.fill(second, (byte) 2);
            byte[] cdb = new byte[16];
            cdb[0] = 0x2A;
            java.nio.ByteBuffer.wrap(cdb).putInt(2, 0).putShort(7, (short) 8);
            raw.send(0, cdb, 0, second);
            // past request-timeout the target ends the stopped driver (SIGKILL works on it) ...
            driver.onExit().get(60, TimeUnit.SECONDS);
            // ... the supervisor starts a new one, and the write is re-issued to it
            RawInitiator.Response answer = raw.awaitResponse(0, 90);
            assertThat(answer.status()).as("sense %s/%s", answer.senseKey(), answer.asc()).isIn(0, BUSY, TASK_SET_FULL);
            if (answer.status() != 0) {
                awaitLive(admin, 60);
                assertThat(raw.write10(0, 0, second, BLOCK).status()).isZero();
            }
            byte[] third = new byte[8 * BLOCK];
            Arrays.fill(third, (byte) 3);
            assertThat(raw.write10(0, 0, third, BLOCK).status()).isZero();
            RawInitiator.Response back = raw.read10(0, 0, 8, BLOCK);
            assertThat(back.status()).isZero();
            assertThat(back.data()).as("the newest write, nothing of the old driver after it").isEqualTo(third);
            assertThat(server.log()).contains("holds a request longer than request-timeout");
        }
    }
}
