package org.rtarget.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Storage outages on a real FUSE mount (bindfs, its daemon killed with SIGKILL): the LUN goes into
 * standby, initiators see BUSY and never an error, and the operator's recovery brings I/O back.
 * With either fuse off, the same outage is an ordinary CHECK CONDITION.
 */
class StandbyIT {
    static final String IQN = "iqn.2026-11.org.rtarget.test:standby";
    static final int BLOCK = 512;
    static final int SCSI_BUSY = 0x08;
    static final int TASK_SET_FULL = 0x28;
    static final int CHECK_CONDITION = 0x02;

    @TempDir
    Path dir;

    private String config(Path image, String serverExtra, String lunExtra) {
        return """
                server:
                  portals: ["127.0.0.1:0"]
                  admin: "127.0.0.1:0"
                  state-dir: state
                %s
                targets:
                  - iqn: %s
                    luns:
                      - {lun: 0, name: fused, backend: file, path: %s, size: 64M%s}
                      - {lun: 1, name: mem, backend: memory, size: 16M}
                """.formatted(serverExtra, IQN, image, lunExtra);
    }

    private static String initiator(String s) {
        return "iqn.2026-11.org.rtarget.test:standby-" + s;
    }

    private Path stateFile(String lun) {
        return dir.resolve("server/state/block/" + lun + "/queue/standby");
    }

    private static void recover(ServerProcess server, int lun) throws Exception {
        // The operator's command, as documented: bin/iscsi-target lun recover TARGET LUN.
        Tools.run(60, ServerProcess.cli("lun", "recover", IQN, Integer.toString(lun), "--admin",
                server.adminAddress())).ok();
    }

    @Test
    void anOutageIsHiddenBehindBusyAndRecoveryResumesIo() throws Exception {
        Tools.require("qemu-io", "qemu-utils qemu-block-extra");
        try (FuseMount fuse = new FuseMount(dir.resolve("storage"), dir.resolve("mnt"));
             ServerProcess server = ServerProcess.start(dir.resolve("server"),
                     config(fuse.path().resolve("disk.img"), "", ""))) {
            Admin admin = server.admin();
            assertThat(admin.standby("fused")).isEqualTo("off");
            assertThat(admin.standby("mem")).isEqualTo("not supported");
            assertThat(Files.readString(stateFile("fused"))).isEqualTo("off\n");
            assertThat(Files.readString(stateFile("mem"))).isEqualTo("not supported\n");

            // A QEMU job that writes 120 patterned regions (paced, so it spans the outage), then
            // reads every one back.
            List<QemuIo.Region> regions = new ArrayList<>();
            List<String> cmds = new ArrayList<>();
            for (int i = 0; i < 120; i++) {
                QemuIo.Region r = new QemuIo.Region(i * 512L * 1024, 64 * 1024, 1 + i % 250);
                regions.add(r);
                cmds.addAll(List.of("-c", "write -P " + r.pattern() + " " + r.offset() + " " + r.length(),
                        "-c", "sleep 40"));
            }
            for (QemuIo.Region r : regions) {
                cmds.addAll(List.of("-c", "read -P " + r.pattern() + " " + r.offset() + " " + r.length()));
            }
            CompletableFuture<String> job = new CompletableFuture<>();
            Thread.ofVirtual().start(() -> {
                try {
                    job.complete(QemuIo.run(List.of("-f", "raw", server.url(IQN, 0)), cmds, regions.size(),
                            regions.size()));
                } catch (Exception | AssertionError e) {
                    job.completeExceptionally(e);
                }
            });
            awaitWrites(admin, "fused", 20);

            long t0 = System.nanoTime();
            fuse.killDaemon();
            admin.awaitStandby("fused", "on", 10);
            System.out.printf("standby on after %d ms%n", (System.nanoTime() - t0) / 1_000_000);
            assertThat(Files.readString(stateFile("fused"))).isEqualTo("on\n");
            try (RawInitiator raw = RawInitiator.login(server.port(), initiator("raw"), IQN)) {
                // A READ is answered BUSY at the status-byte level, without touching the storage.
                RawInitiator.Response read = raw.read10(0, 8, 8, BLOCK);
                assertThat(read.status()).isIn(SCSI_BUSY, TASK_SET_FULL);
                // What does not touch the medium keeps working: INQUIRY, TEST UNIT READY (while BUSY
                // hides the outage), and the other LUN.
                assertThat(raw.inquiry(0).status()).isZero();
                assertThat(raw.testUnitReady(0).status()).isZero();
                assertThat(raw.read10(1, 0, 8, BLOCK).status()).isZero();
                raw.ping();
            }
            assertThat(job).isNotDone();

            System.out.printf("raw checks done after %d ms%n", (System.nanoTime() - t0) / 1_000_000);
            fuse.remount();
            System.out.printf("remounted after %d ms%n", (System.nanoTime() - t0) / 1_000_000);
            recover(server, 0);
            System.out.printf("recovered after %d ms%n", (System.nanoTime() - t0) / 1_000_000);
            assertThat(admin.standby("fused")).isEqualTo("off");
            assertThat(Files.readString(stateFile("fused"))).isEqualTo("off\n");

            // The job ends without an error and every acknowledged write reads back.
            String out = job.get(300, TimeUnit.SECONDS);
            assertThat(out).doesNotContain("error", "failed");
            assertThat(admin.metric("rtarget_standby_transitions_total{lun=\"fused\",to=\"on\"}")).isEqualTo(1.0);
            assertThat(admin.metric("rtarget_standby_transitions_total{lun=\"fused\",to=\"off\"}")).isEqualTo(1.0);
            assertThat(admin.metric("rtarget_standby_busy_answers_total{lun=\"fused\"}")).isGreaterThanOrEqualTo(1.0);
            assertThat(admin.metric("rtarget_standby_time_seconds_total{lun=\"fused\"}")).isPositive();
            assertThat(server.log()).contains("LUN fused entered standby", "LUN fused left standby");
            // And the data is in the image itself.
            try (var image = new java.io.RandomAccessFile(dir.resolve("storage/disk.img").toFile(), "r")) {
                for (QemuIo.Region r : regions) {
                    byte[] b = new byte[r.length()];
                    image.seek(r.offset());
                    image.readFully(b);
                    for (byte x : b) {
                        assertThat(x & 0xff).as("byte of region at %d", r.offset()).isEqualTo(r.pattern());
                    }
                }
            }
        }
    }

    @Test
    void withTheGlobalKeyOffAnOutageIsAnOrdinaryError() throws Exception {
        outageWithAFuseOff("  standby-check: false", "", "off");
    }

    @Test
    void withTheLunsStandbyEnableOffAnOutageIsAnOrdinaryError() throws Exception {
        outageWithAFuseOff("", ", standby-enable: false", "not supported");
    }

    private void outageWithAFuseOff(String serverExtra, String lunExtra, String state) throws Exception {
        try (FuseMount fuse = new FuseMount(dir.resolve("storage"), dir.resolve("mnt"));
             ServerProcess server = ServerProcess.start(dir.resolve("server"),
                     config(fuse.path().resolve("disk.img"), serverExtra, lunExtra))) {
            Admin admin = server.admin();
            assertThat(admin.standby("fused")).isEqualTo(state);
            try (RawInitiator raw = RawInitiator.login(server.port(), initiator("fuse-off"), IQN)) {
                assertThat(raw.write10(0, 0, new byte[8 * BLOCK], BLOCK).status()).isZero();
                fuse.killDaemon();
                RawInitiator.Response write = raw.write10(0, 0, new byte[8 * BLOCK], BLOCK);
                // ENOTCONN without standby: HARDWARE ERROR, LOGICAL UNIT COMMUNICATION FAILURE.
                assertThat(write.status()).isEqualTo(CHECK_CONDITION);
                assertThat(write.senseKey()).isEqualTo(0x4);
                assertThat(write.asc()).isEqualTo(0x08);
                RawInitiator.Response read = raw.read10(0, 0, 8, BLOCK);
                assertThat(read.status()).isEqualTo(CHECK_CONDITION);
                assertThat(read.senseKey()).isEqualTo(0x4);
            }
            assertThat(admin.standby("fused")).isEqualTo(state);
            assertThat(Files.readString(stateFile("fused"))).isEqualTo(state + "\n");
            assertThat(admin.metric("rtarget_standby_transitions_total{lun=\"fused\",to=\"on\"}")).isZero();
            fuse.remount();
        }
    }

    @Test
    void afterBusyMaxTheLunAnswersNotReadyAndRecoveryStillBringsItBack() throws Exception {
        try (FuseMount fuse = new FuseMount(dir.resolve("storage"), dir.resolve("mnt"));
             ServerProcess server = ServerProcess.start(dir.resolve("server"),
                     config(fuse.path().resolve("disk.img"), "", ", standby-busy-max: 2s"))) {
            Admin admin = server.admin();
            try (RawInitiator raw = RawInitiator.login(server.port(), initiator("busy-max"), IQN)) {
                byte[] data = new byte[8 * BLOCK];
                java.util.Arrays.fill(data, (byte) 0x5A);
                assertThat(raw.write10(0, 16, data, BLOCK).status()).isZero();
                fuse.killDaemon();
                assertThat(raw.read10(0, 16, 8, BLOCK).status()).isIn(SCSI_BUSY, TASK_SET_FULL);
                assertThat(admin.standby("fused")).isEqualTo("on");
                Thread.sleep(2500);
                RawInitiator.Response read = raw.read10(0, 16, 8, BLOCK);
                assertThat(read.status()).isEqualTo(CHECK_CONDITION);
                assertThat(new int[] {read.senseKey(), read.asc(), read.ascq()}).containsExactly(0x2, 0x04, 0x03);
                // The path checker's command now says the same, so multipath fails over.
                RawInitiator.Response tur = raw.testUnitReady(0);
                assertThat(new int[] {tur.senseKey(), tur.asc(), tur.ascq()}).containsExactly(0x2, 0x04, 0x03);
                assertThat(admin.standby("fused")).isEqualTo("on");

                fuse.remount();
                recover(server, 0);
                assertThat(admin.standby("fused")).isEqualTo("off");
                RawInitiator.Response back = raw.read10(0, 16, 8, BLOCK);
                assertThat(back.status()).isZero();
                assertThat(back.data()).isEqualTo(data);
                assertThat(raw.testUnitReady(0).status()).isZero();
            }
            assertThat(server.log()).contains("standby-busy-max");
        }
    }

    @Test
    void recoveryFailsCleanlyWhileTheStorageIsStillGone() throws Exception {
        try (FuseMount fuse = new FuseMount(dir.resolve("storage"), dir.resolve("mnt"));
             ServerProcess server = ServerProcess.start(dir.resolve("server"),
                     config(fuse.path().resolve("disk.img"), "", ""))) {
            try (RawInitiator raw = RawInitiator.login(server.port(), initiator("early"), IQN)) {
                fuse.killDaemon();
                assertThat(raw.read10(0, 0, 8, BLOCK).status()).isIn(SCSI_BUSY, TASK_SET_FULL);
                Tools.Result early = Tools.run(60, ServerProcess.cli("lun", "recover", IQN, "0", "--admin",
                        server.adminAddress()));
                assertThat(early.exitCode()).isEqualTo(1);
                assertThat(early.output()).contains("disk.img");
                assertThat(server.admin().standby("fused")).isEqualTo("on");
                // Recovery onto a copy of the image elsewhere (a repaired replica) works.
                Path copy = dir.resolve("replica.img");
                Files.copy(dir.resolve("storage/disk.img"), copy);
                Tools.run(60, ServerProcess.cli("lun", "recover", IQN, "0", "--image", copy.toString(), "--admin",
                        server.adminAddress())).ok();
                assertThat(server.admin().standby("fused")).isEqualTo("off");
                assertThat(raw.read10(0, 0, 8, BLOCK).status()).isZero();
                fuse.remount();
            }
        }
    }

    private static void awaitWrites(Admin admin, String lun, int count) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (admin.lun(lun).path("writeCommands").asLong() < count) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the QEMU job did not start writing");
            }
            Thread.sleep(50);
        }
    }

    @SuppressWarnings("unused")
    private static void ignore(IOException e) {
    }
}
