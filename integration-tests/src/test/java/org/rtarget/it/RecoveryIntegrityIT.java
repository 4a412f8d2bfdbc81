package org.rtarget.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Recovery that never loses an acknowledged write, on real storage faults (a bindfs mount killed
 * or stopped, a FUSE file system whose fsync fails) with a raw initiator that sees every status:
 * a failed flush is never BUSY and never forgotten; a late answer from storage a recovery left is
 * never GOOD, and a late failure does not bring standby back; a stall is standby for new commands
 * while the stuck ones wait; a hung LUN holds up no other; a failed table reload is not the end.
 */
class RecoveryIntegrityIT {
    static final String IQN = "iqn.2026-12.org.rtarget.test:integrity";
    static final int BLOCK = 512;
    static final int GOOD = 0x00;
    static final int CHECK_CONDITION = 0x02;
    static final int BUSY = 0x08;
    static final int TASK_SET_FULL = 0x28;

    @TempDir
    Path dir;

    private static String initiator(String s) {
        return "iqn.2026-12.org.rtarget.test:integrity-" + s;
    }

    private ServerProcess serve(String luns) throws Exception {
        return ServerProcess.start(dir.resolve("server"), """
                server:
                  portals: ["127.0.0.1:0"]
                  admin: "127.0.0.1:0"
                  state-dir: state
                targets:
                  - iqn: %s
                    luns:
                %s
                """.formatted(IQN, luns.indent(6)));
    }

    private static byte[] block(int value, int blocks) {
        byte[] b = new byte[blocks * BLOCK];
        Arrays.fill(b, (byte) value);
        return b;
    }

    private static byte[] write10Cdb(long lba, int blocks) {
        byte[] cdb = new byte[16];
        cdb[0] = 0x2A;
        java.nio.ByteBuffer.wrap(cdb).putInt(2, (int) lba).putShort(7, (short) blocks);
        return cdb;
    }

    private static byte[] read10Cdb(long lba, int blocks) {
        byte[] cdb = new byte[16];
        cdb[0] = 0x28;
        java.nio.ByteBuffer.wrap(cdb).putInt(2, (int) lba).putShort(7, (short) blocks);
        return cdb;
    }

    private static String answer(RawInitiator.Response r) {
        return switch (r.status()) {
            case GOOD -> "GOOD";
            case BUSY -> "BUSY";
            case TASK_SET_FULL -> "TASK SET FULL";
            case CHECK_CONDITION -> String.format("CHECK CONDITION %X/%02X/%02X", r.senseKey(), r.asc(), r.ascq());
            default -> "status 0x" + Integer.toHexString(r.status());
        };
    }

    private static void assertAnswer(RawInitiator.Response r, String expected) {
        assertThat(answer(r)).isEqualTo(expected);
    }

    private static void cli(ServerProcess server, String... args) throws Exception {
        String[] all = Arrays.copyOf(args, args.length + 2);
        all[args.length] = "--admin";
        all[args.length + 1] = server.adminAddress();
        Tools.run(120, ServerProcess.cli(all)).ok();
    }

    @Test
    void aFailedFlushIsAWriteErrorForEveryInitiatorThatWroteNeverBusy() throws Exception {
        try (FaultFs storage = new FaultFs(dir);
             ServerProcess server = serve("- {lun: 0, name: faulty, backend: file, path: %s, size: 16M}"
                     .formatted(storage.path().resolve("disk.img")));
             RawInitiator a = RawInitiator.login(server.port(), initiator("a"), IQN);
             RawInitiator b = RawInitiator.login(server.port(), initiator("b"), IQN);
             RawInitiator c = RawInitiator.login(server.port(), initiator("c"), IQN)) {
            assertAnswer(a.write10(0, 8, block(1, 8), BLOCK), "GOOD");
            assertAnswer(b.write10(0, 64, block(2, 8), BLOCK), "GOOD");

            storage.failFsync();
            // the journal commit's flush: the written pages may be gone, a retry would say GOOD
            assertAnswer(a.synchronizeCache(0), "CHECK CONDITION 3/0C/00");
            storage.healFsync();
            if (!server.admin().standby("faulty").equals("off")) {
                cli(server, "lun", "recover", IQN, "0"); // EIO from FUSE storage is an outage: recover
            }
            assertAnswer(b.synchronizeCache(0), "CHECK CONDITION 3/0C/00");
            assertAnswer(b.synchronizeCache(0), "GOOD");
            assertAnswer(a.synchronizeCache(0), "GOOD");
            assertAnswer(c.synchronizeCache(0), "GOOD");
            assertThat(server.admin().metric("rtarget_writeback_errors_total{lun=\"faulty\"}")).isPositive();
        }
    }

    @Test
    void aWriteThatLandsInTheImageARecoveryLeftIsNeverGood() throws Exception {
        try (FuseMount storage = new FuseMount(dir.resolve("src"), dir.resolve("mnt"));
             ServerProcess server = serve("- {lun: 0, name: moved, backend: file, path: %s, size: 16M, drain-timeout: 1s}"
                     .formatted(storage.path().resolve("disk.img")));
             RawInitiator a = RawInitiator.login(server.port(), initiator("a"), IQN)) {
            assertAnswer(a.write10(0, 8, block(1, 8), BLOCK), "GOOD");
            assertAnswer(a.synchronizeCache(0), "GOOD");
            Path copy = dir.resolve("copy.img");
            Files.copy(dir.resolve("src/disk.img"), copy);

            storage.stop();
            try {
                a.send(0, write10Cdb(8, 8), 0, block(2, 8));
                server.admin().awaitInFlight("moved", 1, 30);
                cli(server, "lun", "recover", IQN, "0", "--image", copy.toString());
            } finally {
                storage.cont();
            }

            // it landed in the old image: reads look at the copy now
            assertThat(answer(a.awaitResponse(0, 60))).isIn("BUSY", "TASK SET FULL");
            RawInitiator.Response back = a.read10(0, 8, 8, BLOCK);
            assertAnswer(back, "GOOD");
            assertThat(back.data()).isEqualTo(block(1, 8));
            assertAnswer(a.write10(0, 8, block(3, 8), BLOCK), "GOOD");
            assertThat(a.read10(0, 8, 8, BLOCK).data()).isEqualTo(block(3, 8));
            assertThat(server.admin().standby("moved")).isEqualTo("off");
        }
    }

    @Test
    void aStragglerThatFailsAfterTheRecoveryDoesNotBringStandbyBack() throws Exception {
        try (FuseMount storage = new FuseMount(dir.resolve("src"), dir.resolve("mnt"));
             ServerProcess server = serve("- {lun: 0, name: straggler, backend: file, path: %s, size: 16M, drain-timeout: 1s}"
                     .formatted(storage.path().resolve("disk.img")));
             RawInitiator a = RawInitiator.login(server.port(), initiator("a"), IQN);
             RawInitiator b = RawInitiator.login(server.port(), initiator("b"), IQN)) {
            assertAnswer(b.write10(0, 0, block(5, 8), BLOCK), "GOOD");
            assertAnswer(b.synchronizeCache(0), "GOOD");
            Path copy = dir.resolve("copy.img");
            Files.copy(dir.resolve("src/disk.img"), copy);

            storage.stop();
            try {
                a.send(0, read10Cdb(0, 8), 8 * BLOCK, null);
                server.admin().awaitInFlight("straggler", 1, 30);
                cli(server, "lun", "recover", IQN, "0", "--image", copy.toString());
            } finally {
                storage.killDaemon(); // the old storage dies for good: the straggler fails late
            }

            assertThat(answer(a.awaitResponse(8 * BLOCK, 60))).isIn("BUSY", "TASK SET FULL");
            assertThat(server.admin().standby("straggler")).as("the recovered LUN stays out of standby").isEqualTo("off");
            RawInitiator.Response read = b.read10(0, 0, 8, BLOCK);
            assertAnswer(read, "GOOD");
            assertThat(read.data()).isEqualTo(block(5, 8));
        }
    }

    @Test
    void aStallIsStandbyForNewCommandsWhileTheStuckOnesWaitForTheStorage() throws Exception {
        try (FuseMount storage = new FuseMount(dir.resolve("src"), dir.resolve("mnt"));
             ServerProcess server = serve("- {lun: 0, name: stalled, backend: file, path: %s, size: 16M, stall-timeout: 2s}"
                     .formatted(storage.path().resolve("disk.img")));
             RawInitiator a = RawInitiator.login(server.port(), initiator("a"), IQN);
             RawInitiator b = RawInitiator.login(server.port(), initiator("b"), IQN)) {
            storage.stop();
            try {
                a.send(0, write10Cdb(0, 8), 0, block(6, 8));
                server.admin().awaitStandby("stalled", "on", 30);
                assertThat(answer(b.write10(0, 64, block(7, 8), BLOCK))).isIn("BUSY", "TASK SET FULL");
            } finally {
                storage.cont();
            }
            assertAnswer(a.awaitResponse(0, 60), "GOOD"); // answered once, when the storage answered
            server.admin().awaitStandby("stalled", "off", 30);
            assertAnswer(b.write10(0, 64, block(7, 8), BLOCK), "GOOD");
            assertThat(b.read10(0, 0, 8, BLOCK).data()).isEqualTo(block(6, 8));
            assertThat(server.log()).contains("command(s) at the storage, the oldest for more than");
        }
    }

    @Test
    void aHungLunHoldsUpNoOtherLun() throws Exception {
        try (FuseMount storage = new FuseMount(dir.resolve("src"), dir.resolve("mnt"));
             ServerProcess server = serve("""
                     - {lun: 0, name: hung, backend: file, path: %s, size: 16M, stall-timeout: 0s}
                     - {lun: 1, name: healthy, backend: file, path: %s, size: 16M}
                     """.formatted(storage.path().resolve("disk.img"), dir.resolve("healthy.img")));
             RawInitiator a = RawInitiator.login(server.port(), initiator("a"), IQN);
             RawInitiator b = RawInitiator.login(server.port(), initiator("b"), IQN)) {
            storage.stop();
            a.sendReads(48, 0, 8, BLOCK); // more than every thread the LUN may use
            server.admin().awaitInFlight("hung", 48, 30);

            try {
                long start = System.nanoTime();
                for (int i = 0; i < 4; i++) { // 1 MiB in writes of 256 KiB (the immediate data this client sends)
                    byte[] data = block(9 + i, 512);
                    assertAnswer(b.write10(1, i * 512L, data, BLOCK), "GOOD");
                    RawInitiator.Response back = b.read10(1, i * 512L, 512, BLOCK);
                    assertAnswer(back, "GOOD");
                    assertThat(back.data()).isEqualTo(data);
                }
                long micros = (System.nanoTime() - start) / 1000;
                System.out.printf("RecoveryIntegrityIT: 1 MiB written and read back on the healthy LUN in %d us "
                        + "while the other LUN had 48 reads hung%n", micros);
                assertThat(server.admin().lun("hung").path("inFlight").asLong()).as("still hung").isEqualTo(48);
            } finally {
                storage.cont(); // before the server stops: a stopped FUSE daemon would hold its exit
            }
        }
    }

    @Test
    void aTableReloadThatFailsWhileTheStorageIsDownIsRecoveredByTheNextOne() throws Exception {
        try (FuseMount storage = new FuseMount(dir.resolve("src"), dir.resolve("mnt"))) {
            Path image = storage.path().resolve("ct.hdd");
            Tools.run(60, ServerProcess.cli("ploop", "create", image.toString(), "--size", "16M")).ok();
            try (ServerProcess server = serve("- {lun: 0, name: ct, backend: ploop, deltas: [%s]}".formatted(image));
                 RawInitiator a = RawInitiator.login(server.port(), initiator("a"), IQN)) {
                assertAnswer(a.write10(0, 0, block(4, 8), BLOCK), "GOOD");
                assertAnswer(a.synchronizeCache(0), "GOOD");

                storage.killDaemon();
                assertThat(answer(a.read10(0, 0, 8, BLOCK))).isIn("BUSY", "TASK SET FULL");
                Tools.Result failed = Tools.run(120, ServerProcess.cli("ploop", "reload", IQN, "0", "--admin",
                        server.adminAddress()));
                assertThat(failed.exitCode()).as(failed.output()).isNotZero();
                assertThat(server.admin().standby("ct")).isEqualTo("on");

                storage.remount();
                cli(server, "ploop", "reload", IQN, "0"); // the storage is back: this one recovers the LUN
                assertThat(server.admin().standby("ct")).isEqualTo("off");
                RawInitiator.Response read = a.read10(0, 0, 8, BLOCK);
                assertAnswer(read, "GOOD");
                assertThat(read.data()).isEqualTo(block(4, 8));
                assertAnswer(a.write10(0, 8, block(8, 8), BLOCK), "GOOD");
            }
        }
    }

    @Test
    void aSameTopReplaceDeltaWhileACopyOnWriteStallsLeavesACleanImage() throws Exception {
        try (FuseMount storage = new FuseMount(dir.resolve("src"), dir.resolve("mnt"))) {
            Path base = storage.path().resolve("base.hdd");
            Path top = dir.resolve("top.hdd");
            Tools.run(60, ServerProcess.cli("ploop", "create", base.toString(), "--size", "16M",
                    "--cluster-size", "64K")).ok();
            try (ServerProcess server = serve("- {lun: 0, name: cow, backend: ploop, deltas: [%s], drain-timeout: 1s}"
                    .formatted(base));
                 RawInitiator a = RawInitiator.login(server.port(), initiator("a"), IQN);
                 RawInitiator b = RawInitiator.login(server.port(), initiator("b"), IQN)) {
                assertAnswer(a.write10(0, 0, block(1, 128), BLOCK), "GOOD"); // cluster 0, in the base
                cli(server, "ploop", "snapshot", IQN, "0", "--image", top.toString()); // top on local disk

                storage.stop();
                try {
                    a.send(0, write10Cdb(0, 8), 0, block(2, 8)); // part of cluster 0: copy-on-write reads the base
                    server.admin().awaitInFlight("cow", 1, 30);
                    cli(server, "ploop", "replace-delta", IQN, "0", "--image", top.toString());
                    assertAnswer(b.write10(0, 4 * 128, block(4, 128), BLOCK), "GOOD"); // a new cluster, new chain
                } finally {
                    storage.cont();
                }

                assertThat(answer(a.awaitResponse(0, 60))).isIn("BUSY", "TASK SET FULL");
                assertAnswer(b.write10(0, 5 * 128, block(5, 128), BLOCK), "GOOD");
                assertThat(b.read10(0, 0, 128, BLOCK).data()).isEqualTo(block(1, 128));
                assertThat(b.read10(0, 4 * 128, 128, BLOCK).data()).isEqualTo(block(4, 128));
            }
            Tools.Result check = Tools.run(60, ServerProcess.cli("ploop", "check", top.toString()));
            assertThat(check.exitCode()).as(check.output()).isZero();
            assertThat(check.output()).doesNotContainIgnoringCase("named twice").doesNotContainIgnoringCase("duplicate");
        }
    }
}
