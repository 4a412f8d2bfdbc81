package org.rtarget.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ploop LUNs end to end: chains with snapshots taken through the running server, merges, odd
 * sizes, bad images, storage outages recovered by replace-delta (vz7) and table reload (vz9), and
 * kill -9 of the target under load.
 */
class PloopIT {
    static final String IQN = "iqn.2026-11.org.rtarget.test:ploop";
    static final int BLOCK = 512;

    @TempDir
    Path dir;

    private static String config(String deltas, String extra) {
        return """
                server:
                  portals: ["127.0.0.1:0"]
                  admin: "127.0.0.1:0"
                  state-dir: st
                targets:
                  - iqn: %s
                    luns:
                      - {lun: 0, name: ct, backend: ploop, deltas: [%s]%s}
                """.formatted(IQN, deltas, extra);
    }

    private static Tools.Result cli(String... args) throws Exception {
        return Tools.run(300, ServerProcess.cli(args));
    }

    private static void create(Path image, String size, String cluster) throws Exception {
        cli("ploop", "create", image.toString(), "--size", size, "--cluster-size", cluster).ok();
    }

    /** qemu-io writes a set of patterned regions (and verifies them), returns them. */
    private static List<QemuIo.Region> writeSet(ServerProcess server, int set, int count, long spacing) throws Exception {
        List<QemuIo.Region> regions = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            // Regions of different sets overlap partly: reads must fall through the chain correctly.
            regions.add(new QemuIo.Region(i * spacing + set * 24576L, 64 * 1024, 1 + (set * 50 + i) % 254));
        }
        QemuIo.run(List.of("-f", "raw", server.url(IQN, 0)), QemuIo.writeThenVerify(regions), count, count);
        return regions;
    }

    /** The bytes each region of later sets overwrote win; everything is read back through QEMU. */
    private static void verifyAll(ServerProcess server, List<List<QemuIo.Region>> sets, long size) throws Exception {
        byte[] expected = new byte[(int) size];
        for (List<QemuIo.Region> set : sets) {
            for (QemuIo.Region r : set) {
                java.util.Arrays.fill(expected, (int) r.offset(), (int) (r.offset() + r.length()), (byte) r.pattern());
            }
        }
        Path dump = server.config().getParent().resolve("dump.raw");
        Tools.run(300, "qemu-img", "convert", "-f", "raw", "-O", "raw", server.url(IQN, 0), dump.toString()).ok();
        byte[] actual = Files.readAllBytes(dump);
        assertThat(actual.length).isEqualTo(expected.length);
        for (int i = 0; i < expected.length; i++) {
            if (actual[i] != expected[i]) {
                throw new AssertionError("byte " + i + " reads " + (actual[i] & 0xff) + ", expected " + (expected[i] & 0xff));
            }
        }
    }

    @Test
    void snapshotsAndMergesThroughTheRunningServer() throws Exception {
        Tools.require("qemu-io", "qemu-utils qemu-block-extra");
        Path base = dir.resolve("images/root.hds");
        Files.createDirectories(base.getParent());
        create(base, "32M", "256K");
        try (ServerProcess server = ServerProcess.start(dir.resolve("server"), config(base.toString(), ""))) {
            String admin = server.adminAddress();
            List<List<QemuIo.Region>> sets = new ArrayList<>();
            sets.add(writeSet(server, 0, 40, 512 * 1024));
            cli("ploop", "snapshot", IQN, "0", "--admin", admin).ok();
            sets.add(writeSet(server, 1, 40, 512 * 1024));
            Tools.Result second = cli("ploop", "snapshot", IQN, "0", "--admin", admin).ok();
            assertThat(second.output()).contains("snapshot taken");
            sets.add(writeSet(server, 2, 40, 512 * 1024));
            assertThat(server.admin().lun("ct").path("deltas").size()).isEqualTo(3);
            verifyAll(server, sets, 32L << 20);

            // A snapshot taken while QEMU writes: the job ends without error.
            CompletableFuture<List<QemuIo.Region>> job = new CompletableFuture<>();
            Thread.ofVirtual().start(() -> {
                try {
                    job.complete(writeSet(server, 3, 200, 128 * 1024));
                } catch (Exception | AssertionError e) {
                    job.completeExceptionally(e);
                }
            });
            Thread.sleep(300);
            cli("ploop", "snapshot", IQN, "0", "--admin", admin).ok();
            sets.add(job.get(300, TimeUnit.SECONDS));
            verifyAll(server, sets, 32L << 20);

            // Merges, one of them while QEMU writes; the chain shrinks and nothing changes for the initiator.
            CompletableFuture<List<QemuIo.Region>> job2 = new CompletableFuture<>();
            Thread.ofVirtual().start(() -> {
                try {
                    job2.complete(writeSet(server, 4, 200, 128 * 1024));
                } catch (Exception | AssertionError e) {
                    job2.completeExceptionally(e);
                }
            });
            Thread.sleep(300);
            cli("ploop", "merge", IQN, "0", "--admin", admin).ok();
            sets.add(job2.get(300, TimeUnit.SECONDS));
            cli("ploop", "merge", IQN, "0", "--admin", admin).ok();
            assertThat(server.admin().lun("ct").path("deltas").size()).isEqualTo(2);
            verifyAll(server, sets, 32L << 20);
        }
        // Stopped cleanly: every delta of the chain checks clean, and a restart opens the live chain.
        try (ServerProcess again = ServerProcess.start(dir.resolve("server"), config(base.toString(), ""))) {
            assertThat(again.admin().lun("ct").path("deltas").size()).isEqualTo(2);
            assertThat(again.log()).contains("opening its live chain");
        }
        Path state = dir.resolve("server/st/ploop/ct.chain");
        assertThat(Files.readString(state)).contains("root.hds");
        for (Path delta : Files.list(base.getParent()).filter(p -> p.toString().contains("root.hds")).toList()) {
            assertThat(cli("ploop", "check", delta.toString()).output()).as(delta.toString()).contains("no problems found");
        }
    }

    @Test
    void aPreallocatedImageIsCreatedWithAProgressLineAndNeverGrowsUnderWrites() throws Exception {
        Tools.require("qemu-io", "qemu-utils qemu-block-extra");
        Path image = dir.resolve("prealloc.hds");
        String created = cli("ploop", "create", image.toString(), "--size", "2G", "--preallocate").ok().output();
        assertThat(created).contains("allocating [", "2048/2048 clusters", "all allocated");
        assertThat(cli("ploop", "info", image.toString()).ok().output()).contains("clusters:  2048 of 2048 allocated");
        long fileSize = Files.size(image);
        try (ServerProcess server = ServerProcess.start(dir.resolve("server"), config(image.toString(), ""))) {
            QemuIo.run(List.of("-f", "raw", server.url(IQN, 0)), List.of(
                    "-c", "write -P 0x3d 1G 1M", "-c", "write -P 0x3e 7k 9k",
                    "-c", "read -P 0x3d 1G 1M", "-c", "read -P 0x3e 7k 9k", "-c", "read -P 0 2000M 1M"), 2, 3);
        }
        assertThat(Files.size(image)).as("writes into a preallocated image allocate nothing").isEqualTo(fileSize);
        assertThat(cli("ploop", "check", image.toString()).output()).contains("no problems found");
    }

    @Test
    void oddSizesWorkToTheLastByte() throws Exception {
        Tools.require("qemu-io", "qemu-utils qemu-block-extra");
        Path image = dir.resolve("odd.hds");
        long size = 10L * 1024 * 1024 + 512;
        create(image, Long.toString(size), "1M");
        try (ServerProcess server = ServerProcess.start(dir.resolve("server"), config(image.toString(), ""))) {
            String out = Tools.run(60, "iscsi-readcapacity16", server.url(IQN, 0)).ok().output();
            assertThat(out).contains("Total size:" + size);
            QemuIo.run(List.of("-f", "raw", server.url(IQN, 0)), List.of(
                    "-c", "write -P 0x7e " + (size - 4096) + " 4096", "-c", "write -P 0x11 0 512",
                    "-c", "read -P 0x7e " + (size - 4096) + " 4096", "-c", "read -P 0x11 0 512",
                    "-c", "read -P 0 512 1048576"), 2, 3);
        }
        assertThat(cli("ploop", "check", image.toString()).output()).contains("no problems found");
    }

    @Test
    void badImagesAreLeftOutWithOneClearMessageAndTheRestIsServed() throws Exception {
        Path good = dir.resolve("good.hds");
        create(good, "8M", "1M");
        Path badSignature = dir.resolve("badsig.hds");
        create(badSignature, "8M", "1M");
        try (RandomAccessFile f = new RandomAccessFile(badSignature.toFile(), "rw")) {
            f.write("NotAPloopImage!!".getBytes());
        }
        Path corruptBat = dir.resolve("badbat.hds");
        create(corruptBat, "8M", "1M");
        try (RandomAccessFile f = new RandomAccessFile(corruptBat.toFile(), "rw")) {
            f.seek(64); // BAT entry 0 points far past the end of the file
            f.write(new byte[] {(byte) 0xff, (byte) 0xff, 0, 0});
        }
        Path other = dir.resolve("other-size.hds");
        create(other, "16M", "1M");
        Path missing = dir.resolve("missing.hds");
        try (ServerProcess server = ServerProcess.start(dir.resolve("server"), """
                server:
                  portals: ["127.0.0.1:0"]
                  admin: "127.0.0.1:0"
                  state-dir: st
                targets:
                  - iqn: %s
                    luns:
                      - {lun: 0, name: fine, backend: ploop, deltas: [%s]}
                      - {lun: 1, name: sig, backend: ploop, deltas: [%s]}
                      - {lun: 2, name: bat, backend: ploop, deltas: [%s]}
                      - {lun: 3, name: chain, backend: ploop, deltas: [%s, %s]}
                      - {lun: 4, name: gone, backend: ploop, deltas: [%s]}
                """.formatted(IQN, good, badSignature, corruptBat, good, other, missing))) {
            String log = server.log();
            assertThat(log).containsPattern("LUN 1 \\(sig\\) is not exported: .*badsig.hds.*signature");
            assertThat(log).containsPattern("LUN 2 \\(bat\\) is not exported: .*badbat.hds");
            assertThat(log).containsPattern("LUN 3 \\(chain\\) is not exported: .*other-size.hds");
            assertThat(log).containsPattern("LUN 4 \\(gone\\) is not exported: .*missing.hds");
            String luns = Tools.run(30, "iscsi-ls", "-s", "iscsi://" + server.portal()).ok().output();
            assertThat(luns).contains("Lun:0").doesNotContain("Lun:1", "Lun:2", "Lun:3", "Lun:4");
        }
        Tools.Result check = cli("ploop", "check", corruptBat.toString());
        assertThat(check.exitCode()).isEqualTo(1);
        assertThat(check.output()).contains("past");
        assertThat(cli("ploop", "check", corruptBat.toString(), "--repair").output()).contains("fixed");
        assertThat(cli("ploop", "check", corruptBat.toString()).output()).contains("no problems found");
    }

    @Test
    void anOutageRecoveredByReplaceDelta() throws Exception {
        outageRecoveredBy("replace-delta");
    }

    @Test
    void anOutageRecoveredByTableReload() throws Exception {
        outageRecoveredBy("reload");
    }

    private void outageRecoveredBy(String recovery) throws Exception {
        Tools.require("qemu-io", "qemu-utils qemu-block-extra");
        try (FuseMount fuse = new FuseMount(dir.resolve("storage"), dir.resolve("mnt"))) {
            Path base = fuse.path().resolve("root.hds.base");
            Path top = fuse.path().resolve("root.hds");
            create(base, "64M", "1M");
            try (ServerProcess server = ServerProcess.start(dir.resolve("server"), config(base.toString(), ""))) {
                // base + one snapshot (the top delta) on the failing storage
                cli("ploop", "snapshot", IQN, "0", "--image", top.toString(), "--admin", server.adminAddress()).ok();
                Admin admin = server.admin();
                List<QemuIo.Region> regions = new ArrayList<>();
                List<String> cmds = new ArrayList<>();
                for (int i = 0; i < 100; i++) {
                    QemuIo.Region r = new QemuIo.Region(i * 512L * 1024, 64 * 1024, 1 + i % 250);
                    regions.add(r);
                    cmds.addAll(List.of("-c", "write -P " + r.pattern() + " " + r.offset() + " " + r.length(),
                            "-c", "sleep 30"));
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
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (admin.lun("ct").path("writeCommands").asLong() < 15) {
                    assertThat(System.nanoTime()).isLessThan(deadline);
                    Thread.sleep(50);
                }
                fuse.killDaemon();
                admin.awaitStandby("ct", "on", 10);
                fuse.remount();
                if (recovery.equals("replace-delta")) {
                    cli("ploop", "replace-delta", IQN, "0", "--image", top.toString(), "--admin",
                            server.adminAddress()).ok();
                } else {
                    cli("ploop", "reload", IQN, "0", "--admin", server.adminAddress()).ok();
                }
                assertThat(admin.standby("ct")).isEqualTo("off");
                String out = job.get(300, TimeUnit.SECONDS);
                assertThat(out).doesNotContain("error", "failed");
                assertThat(server.log()).contains("LUN ct entered standby", "LUN ct left standby");
            }
        }
    }

    @Test
    void acknowledgedWritesSurviveKillMinusNineOfTheTarget() throws Exception {
        Path image = dir.resolve("durable.hds");
        create(image, "64M", "64K");
        Map<Long, byte[]> acknowledged = new ConcurrentHashMap<>();
        Random random = new Random(11);
        for (int round = 0; round < 5; round++) {
            ServerProcess server = ServerProcess.start(dir.resolve("server"), config(image.toString(), ""));
            try (RawInitiator raw = RawInitiator.login(server.port(), "iqn.2026-11.org.rtarget.test:durable", IQN)) {
                // Everything acknowledged before is there after the crash and the restart.
                for (Map.Entry<Long, byte[]> e : acknowledged.entrySet()) {
                    RawInitiator.Response r = raw.read10(0, e.getKey(), 8, BLOCK);
                    assertThat(r.status()).isZero();
                    assertThat(r.data()).as("blocks at LBA %d after crash %d", e.getKey(), round).isEqualTo(e.getValue());
                }
                long killAt = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(300 + random.nextInt(700));
                Thread killer = Thread.ofVirtual().start(() -> {
                    while (System.nanoTime() < killAt) {
                        Thread.onSpinWait();
                    }
                    server.process().destroyForcibly(); // kill -9 at a random moment under load
                });
                try {
                    while (true) {
                        long lba = 8L * random.nextInt(16384);
                        byte[] data = new byte[8 * BLOCK];
                        random.nextBytes(data);
                        // Until this write is acknowledged the blocks may hold the old data or the
                        // new (a write in flight at the kill may land): neither is a promise.
                        acknowledged.remove(lba);
                        if (raw.write10(0, lba, data, BLOCK).status() != 0) {
                            break;
                        }
                        acknowledged.put(lba, data);
                    }
                } catch (java.io.IOException expected) {
                    // the target died under the write
                }
                killer.join();
            } catch (java.io.IOException died) {
                // killed while logging in
            }
            server.process().waitFor(10, TimeUnit.SECONDS);
            // The crash left the in-use mark: check sees it, repair clears it, nothing else is wrong.
            Tools.Result check = cli("ploop", "check", image.toString());
            assertThat(check.output()).containsAnyOf("not closed cleanly", "in-use", "in use", "no problems found");
            cli("ploop", "check", image.toString(), "--repair").ok();
            assertThat(cli("ploop", "check", image.toString()).output()).contains("no problems found");
        }
        assertThat(acknowledged).hasSizeGreaterThan(50);
        try (ServerProcess server = ServerProcess.start(dir.resolve("server"), config(image.toString(), ""));
             RawInitiator raw = RawInitiator.login(server.port(), "iqn.2026-11.org.rtarget.test:durable", IQN)) {
            for (Map.Entry<Long, byte[]> e : acknowledged.entrySet()) {
                assertThat(raw.read10(0, e.getKey(), 8, BLOCK).data()).isEqualTo(e.getValue());
            }
        }
    }

    @Test
    void theKernelInitiatorUsesAChainOfBaseAndTwoSnapshots() throws Exception {
        Path base = dir.resolve("k/root.hds");
        Files.createDirectories(base.getParent());
        create(base, "256M", "1M");
        try (ServerProcess server = ServerProcess.start(dir.resolve("server"), config(base.toString(), ""))) {
            Tools.run(300, "qemu-io", "-f", "raw", "-c", "write -P 0x33 0 8M", server.url(IQN, 0)).ok();
            cli("ploop", "snapshot", IQN, "0", "--admin", server.adminAddress()).ok();
            Tools.run(300, "qemu-io", "-f", "raw", "-c", "write -P 0x44 4M 8M", server.url(IQN, 0)).ok();
            cli("ploop", "snapshot", IQN, "0", "--admin", server.adminAddress()).ok();
            Tools.Result r = Tools.run(1000, Tools.list(Tools.shared().resolve("tools/kernel-initiator").toString(),
                    "--portal", server.portal(), "--iqn", IQN, "--timeout", "900"));
            String out = r.output();
            assertThat(out).as(out.length() > 4000 ? out.substring(out.length() - 4000) : out)
                    .contains("KI-RESULT: PASS", "all checks passed");
        }
        for (Path delta : Files.list(base.getParent()).toList()) {
            assertThat(cli("ploop", "check", delta.toString()).output()).contains("no problems found");
        }
    }
}
