package org.rtarget.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Live reloads: only the difference is applied, and I/O on what did not change never notices.
 * Every case runs with I/O on an unchanged LUN of another target (QEMU, and a raw client that checks
 * every status byte and records latency) and must see no error, no non-GOOD status and no pause.
 */
class ReloadIT {
    static final String A = "iqn.2026-11.org.rtarget.test:reload-a";
    static final String B = "iqn.2026-11.org.rtarget.test:reload-b";
    static final int BLOCK = 512;
    static final int CHECK_CONDITION = 0x02;

    @TempDir
    Path dir;

    /** Target A holds the unchanged LUN that carries the watched I/O; target B is what reloads change. */
    private static String config(String bLuns, String bExtra) {
        return """
                server:
                  portals: ["127.0.0.1:0"]
                  admin: "127.0.0.1:0"
                  state-dir: st
                targets:
                  - iqn: %s
                    luns:
                      - {lun: 0, name: steady, backend: memory, size: 64M}
                  - iqn: %s
                %s
                    luns:
                %s
                """.formatted(A, B, bExtra, bLuns);
    }

    private static final String B_BASE = "      - {lun: 0, name: b0, backend: memory, size: 16M}\n"
            + "      - {lun: 1, name: b1, backend: file, path: b1.img, size: 16M}";

    /** A raw client reading the unchanged LUN in a loop: every status must be GOOD; keeps the worst latency. */
    private static final class Watcher implements AutoCloseable {
        final AtomicBoolean running = new AtomicBoolean(true);
        final AtomicLong worstNanos = new AtomicLong();
        final AtomicInteger commands = new AtomicInteger();
        final CompletableFuture<Void> done = new CompletableFuture<>();

        Watcher(ServerProcess server) {
            Thread.ofVirtual().start(() -> {
                try (RawInitiator raw = RawInitiator.login(server.port(), "iqn.2026-11.org.rtarget.test:watcher", A)) {
                    byte[] data = new byte[8 * BLOCK];
                    java.util.Arrays.fill(data, (byte) 0x6b);
                    // Blocks above the QEMU job's regions (which end at 50 MiB).
                    int lba = 110_000;
                    while (running.get()) {
                        long t0 = System.nanoTime();
                        RawInitiator.Response w = raw.write10(0, lba, data, BLOCK);
                        RawInitiator.Response r = raw.read10(0, lba, 8, BLOCK);
                        long t = System.nanoTime() - t0;
                        worstNanos.accumulateAndGet(t, Math::max);
                        if (w.status() != 0 || r.status() != 0) {
                            throw new AssertionError("non-GOOD status on the unchanged LUN: write " + w.status()
                                    + ", read " + r.status() + " (sense key " + r.senseKey() + ")");
                        }
                        commands.addAndGet(2);
                        lba = lba >= 120_000 ? 110_000 : lba + 8;
                    }
                    done.complete(null);
                } catch (Throwable e) {
                    done.completeExceptionally(e);
                }
            });
        }

        @Override
        public void close() throws Exception {
            running.set(false);
            done.get(60, TimeUnit.SECONDS);
        }
    }

    private static ReloadOutcome reload(ServerProcess server, Path configFile, String yaml) throws Exception {
        Files.writeString(configFile, yaml);
        Tools.Result r = Tools.run(120, ServerProcess.cli("reload", "--admin", server.adminAddress()));
        return new ReloadOutcome(r.exitCode(), r.output());
    }

    private record ReloadOutcome(int exitCode, String output) {
    }

    @Test
    void everyKindOfChangeLeavesTheOtherTargetUndisturbed() throws Exception {
        Tools.require("qemu-io", "qemu-utils qemu-block-extra");
        try (ServerProcess server = ServerProcess.start(dir.resolve("server"), config(B_BASE, ""))) {
            Path configFile = server.config();
            CompletableFuture<String> qemu = new CompletableFuture<>();
            List<String> cmds = new ArrayList<>();
            List<QemuIo.Region> regions = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                QemuIo.Region r = new QemuIo.Region(i * 256L * 1024, 32 * 1024, 1 + i % 250);
                regions.add(r);
                cmds.addAll(List.of("-c", "write -P " + r.pattern() + " " + r.offset() + " " + r.length(), "-c", "sleep 40"));
            }
            for (QemuIo.Region r : regions) {
                cmds.addAll(List.of("-c", "read -P " + r.pattern() + " " + r.offset() + " " + r.length()));
            }
            Thread.ofVirtual().start(() -> {
                try {
                    qemu.complete(QemuIo.run(List.of("-f", "raw", server.url(A, 0)), cmds, regions.size(), regions.size()));
                } catch (Exception | AssertionError e) {
                    qemu.completeExceptionally(e);
                }
            });
            try (Watcher watcher = new Watcher(server);
                 RawInitiator onB = RawInitiator.login(server.port(), "iqn.2026-11.org.rtarget.test:on-b", B)) {
                Thread.sleep(500);
                byte[] marker = new byte[8 * BLOCK];
                java.util.Arrays.fill(marker, (byte) 0x42);
                assertThat(onB.write10(1, 0, marker, BLOCK).status()).isZero();
                String serialBefore = Tools.run(30, "iscsi-inq", "-e", "1", "-c", "128", server.url(B, 1)).ok().output();

                // 1. A LUN is added: it appears, B's sessions get REPORTED LUNS DATA HAS CHANGED.
                ReloadOutcome added = reload(server, configFile, config(B_BASE
                        + "\n      - {lun: 2, name: b2, backend: memory, size: 8M}", ""));
                assertThat(added.exitCode()).as(added.output()).isZero();
                assertThat(added.output()).contains("LUN 2 (b2) added");
                RawInitiator.Response ua = onB.testUnitReady(0);
                assertThat(ua.status()).isEqualTo(CHECK_CONDITION);
                assertThat(new int[] {ua.senseKey(), ua.asc(), ua.ascq()}).containsExactly(0x6, 0x3F, 0x0E);
                assertThat(Tools.run(30, "iscsi-ls", "-s", "iscsi://" + server.portal()).ok().output()).contains("Lun:2");

                // 2. A file LUN grows: CAPACITY DATA HAS CHANGED, the new size, the data kept.
                ReloadOutcome grown = reload(server, configFile, config(
                        "      - {lun: 0, name: b0, backend: memory, size: 16M}\n"
                                + "      - {lun: 1, name: b1, backend: file, path: b1.img, size: 32M}\n"
                                + "      - {lun: 2, name: b2, backend: memory, size: 8M}", ""));
                assertThat(grown.exitCode()).as(grown.output()).isZero();
                drainAttentions(onB, 1);
                assertThat(Tools.run(30, "iscsi-readcapacity16", server.url(B, 1)).ok().output())
                        .contains("Total size:" + (32L << 20));
                assertThat(onB.read10(1, 0, 8, BLOCK).data()).isEqualTo(marker);

                // 3. A LUN's backend changes under the same name: rebuilt, same identity.
                Files.copy(dir.resolve("server/b1.img"), dir.resolve("server/b1-copy.img"));
                ReloadOutcome rebuilt = reload(server, configFile, config(
                        "      - {lun: 0, name: b0, backend: memory, size: 16M}\n"
                                + "      - {lun: 1, name: b1, backend: file, path: b1-copy.img, size: 32M}\n"
                                + "      - {lun: 2, name: b2, backend: memory, size: 8M}", ""));
                assertThat(rebuilt.exitCode()).as(rebuilt.output()).isZero();
                assertThat(rebuilt.output()).contains("rebuilt");
                drainAttentions(onB, 1);
                assertThat(onB.read10(1, 0, 8, BLOCK).data()).isEqualTo(marker);
                assertThat(Tools.run(30, "iscsi-inq", "-e", "1", "-c", "128", server.url(B, 1)).ok().output())
                        .isEqualTo(serialBefore);

                // 4. A LUN is removed: LOGICAL UNIT NOT SUPPORTED, its state file gone.
                Path stateFile = dir.resolve("server/st/block/b2/queue/standby");
                assertThat(stateFile).exists();
                ReloadOutcome removed = reload(server, configFile, config(
                        "      - {lun: 0, name: b0, backend: memory, size: 16M}\n"
                                + "      - {lun: 1, name: b1, backend: file, path: b1-copy.img, size: 32M}", ""));
                assertThat(removed.exitCode()).as(removed.output()).isZero();
                drainAttentions(onB, 0);
                RawInitiator.Response gone = onB.read10(2, 0, 8, BLOCK);
                assertThat(new int[] {gone.status(), gone.senseKey(), gone.asc()}).containsExactly(CHECK_CONDITION, 0x5, 0x25);
                assertThat(stateFile).doesNotExist();

                // 5. Target settings change (alias, queue depth): new logins use them, nothing else moves.
                ReloadOutcome settings = reload(server, configFile, config(
                        "      - {lun: 0, name: b0, backend: memory, size: 16M}\n"
                                + "      - {lun: 1, name: b1, backend: file, path: b1-copy.img, size: 32M}",
                        "    alias: renamed\n    queue-depth: 32"));
                assertThat(settings.exitCode()).as(settings.output()).isZero();
                assertThat(settings.output()).contains("alias", "queue-depth");

                // 6. A bad file changes nothing: every error with file:line:col, the old config serves on.
                ReloadOutcome bad = reload(server, configFile, config(
                        "      - {lun: 0, name: b0, backend: memory, size: 12XB}", ""));
                assertThat(bad.exitCode()).isEqualTo(1);
                assertThat(bad.output()).containsPattern(java.util.regex.Pattern.quote(configFile.toString())
                        + ":\\d+:\\d+: targets\\[1]\\.luns\\[0]\\.size: \"12XB\" is not a size");
                assertThat(onB.read10(1, 0, 8, BLOCK).status()).isZero();

                // 7. A target is added, then removed: its sessions end, the other target never notices.
                Files.writeString(configFile, config(
                        "      - {lun: 0, name: b0, backend: memory, size: 16M}\n"
                                + "      - {lun: 1, name: b1, backend: file, path: b1-copy.img, size: 32M}", "")
                        + "  - iqn: iqn.2026-11.org.rtarget.test:reload-c\n    luns:\n"
                        + "      - {lun: 0, name: c0, backend: memory, size: 8M}\n");
                assertThat(Tools.run(60, ServerProcess.cli("reload", "--admin", server.adminAddress())).ok().output())
                        .contains("reload-c added");
                try (RawInitiator onC = RawInitiator.login(server.port(), "iqn.2026-11.org.rtarget.test:on-c",
                        "iqn.2026-11.org.rtarget.test:reload-c")) {
                    assertThat(onC.testUnitReady(0).status()).isZero();
                    ReloadOutcome dropped = reload(server, configFile, config(
                            "      - {lun: 0, name: b0, backend: memory, size: 16M}\n"
                                    + "      - {lun: 1, name: b1, backend: file, path: b1-copy.img, size: 32M}", ""));
                    assertThat(dropped.output()).contains("reload-c removed");
                    assertThat(onC.closedByServer(5000)).isTrue();
                }
                Thread.sleep(500);
                watcher.close();
                System.out.printf("ReloadIT: %d commands on the unchanged LUN during the reloads, worst round trip %.1f ms%n",
                        watcher.commands.get(), watcher.worstNanos.get() / 1e6);
                assertThat(watcher.commands.get()).isGreaterThan(100);
                assertThat(watcher.worstNanos.get()).as("no pause on the unchanged LUN")
                        .isLessThan(TimeUnit.MILLISECONDS.toNanos(1000));
            }
            String out = qemu.get(300, TimeUnit.SECONDS);
            assertThat(out).doesNotContain("error", "failed");
        }
    }

    /** Consumes the unit attentions a reload left for this session on its LUNs 0 and 1. */
    private static void drainAttentions(RawInitiator raw, int lun) throws Exception {
        for (int l : new int[] {lun, 0, 1}) {
            for (int i = 0; i < 5 && raw.testUnitReady(l).status() != 0; i++) {
                // each CHECK CONDITION took one unit attention
            }
        }
    }

    private static final java.net.http.HttpClient HTTP = java.net.http.HttpClient.newHttpClient();

    /** A reload through the admin API (the CLI is exercised in the other tests). */
    private static void reloadByApi(ServerProcess server, Path configFile, String yaml) throws Exception {
        Files.writeString(configFile, yaml);
        var r = HTTP.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://" + server.adminAddress()
                        + "/api/reload")).POST(java.net.http.HttpRequest.BodyPublishers.noBody()).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    }

    @Test
    void aHundredReloadsLeakNoThreadsDescriptorsOrMemory() throws Exception {
        String small = "      - {lun: 0, name: b0, backend: memory, size: 16M}";
        String big = small + "\n      - {lun: 1, name: b1, backend: file, path: b1.img, size: 16M}"
                + "\n      - {lun: 2, name: b2, backend: memory, size: 8M}";
        try (ServerProcess server = ServerProcess.start(dir.resolve("server"), config(small, ""))) {
            Path configFile = server.config();
            // Warm up (class loading, JIT, pools), then measure 100 more.
            for (int i = 0; i < 20; i++) {
                reloadByApi(server, configFile, config(i % 2 == 0 ? big : small, ""));
            }
            long pid = server.pid();
            long threads0 = threads(pid);
            long fds0 = fds(pid);
            long heap0 = heapUsedAfterGcKiB(pid);
            try (Watcher watcher = new Watcher(server)) {
                for (int i = 0; i < 100; i++) {
                    reloadByApi(server, configFile, config(i % 2 == 0 ? big : small, ""));
                }
                watcher.close();
                assertThat(watcher.worstNanos.get()).isLessThan(TimeUnit.MILLISECONDS.toNanos(1000));
            }
            long threads1 = threads(pid);
            long fds1 = fds(pid);
            long heap1 = heapUsedAfterGcKiB(pid);
            System.out.printf("ReloadIT: after 100 reloads: threads %d -> %d, fds %d -> %d, heap after GC %d -> %d KiB%n",
                    threads0, threads1, fds0, fds1, heap0, heap1);
            assertThat(threads1).isLessThanOrEqualTo(threads0 + 4);
            assertThat(fds1).isLessThanOrEqualTo(fds0 + 8);
            assertThat(heap1 - heap0).as("heap growth after a full GC, KiB").isLessThan(8 * 1024);
            // The registry holds the meters of the LUNs that exist, not of every LUN that ever did.
            String metrics = server.admin().get("/metrics");
            assertThat(metrics).doesNotContain("lun=\"b2\"");
        }
    }

    @Test
    void reloadsRaceWithLoginsAndLogouts() throws Exception {
        String small = "      - {lun: 0, name: b0, backend: memory, size: 16M}";
        String big = small + "\n      - {lun: 1, name: b1, backend: memory, size: 8M}";
        try (ServerProcess server = ServerProcess.start(dir.resolve("server"), config(small, ""))) {
            Path configFile = server.config();
            AtomicBoolean running = new AtomicBoolean(true);
            List<CompletableFuture<Integer>> loops = new ArrayList<>();
            for (int t = 0; t < 6; t++) {
                int id = t;
                CompletableFuture<Integer> f = new CompletableFuture<>();
                loops.add(f);
                Thread.ofVirtual().start(() -> {
                    int sessions = 0;
                    try {
                        while (running.get()) {
                            try (RawInitiator s = RawInitiator.login(server.port(),
                                    "iqn.2026-11.org.rtarget.test:racer-" + id, B)) {
                                for (int i = 0; i < 3 && s.testUnitReady(0).status() != 0; i++) {
                                    // unit attentions from the reloads
                                }
                                byte[] b = new byte[8 * BLOCK];
                                RawInitiator.Response w = s.write10(0, 8L * id, b, BLOCK);
                                if (w.status() != 0 && w.status() != CHECK_CONDITION) {
                                    throw new AssertionError("status " + w.status());
                                }
                            }
                            sessions++;
                        }
                        f.complete(sessions);
                    } catch (Throwable e) {
                        f.completeExceptionally(e);
                    }
                });
            }
            for (int i = 0; i < 30; i++) {
                assertThat(reload(server, configFile, config(i % 2 == 0 ? big : small, "")).exitCode()).isZero();
            }
            running.set(false);
            int total = 0;
            for (CompletableFuture<Integer> f : loops) {
                total += f.get(60, TimeUnit.SECONDS);
            }
            assertThat(total).isGreaterThan(30);
            assertThat(server.alive()).isTrue();
            Tools.run(30, "iscsi-inq", server.url(B, 0)).ok();
        }
    }

    @Test
    void sighupReloadsToo() throws Exception {
        try (ServerProcess server = ServerProcess.start(dir.resolve("server"),
                config("      - {lun: 0, name: b0, backend: memory, size: 16M}", ""))) {
            Files.writeString(server.config(), config("      - {lun: 0, name: b0, backend: memory, size: 16M}\n"
                    + "      - {lun: 5, name: b5, backend: memory, size: 8M}", ""));
            Tools.run(10, "kill", "-HUP", Long.toString(server.pid())).ok();
            awaitLog(server, "LUN 5 (b5) added", 1);
            assertThat(Tools.run(30, "iscsi-ls", "-s", "iscsi://" + server.portal()).ok().output()).contains("Lun:5");
        }
    }

    /**
     * A SIGHUP the moment the server says it listens (a systemd ExecReload right after start) reloads
     * it: the handler is in place before the server listens (the JVM's default action would kill it).
     */
    @Test
    void aSighupRightAfterStartReloadsInsteadOfKilling() throws Exception {
        Path serverDir = Files.createDirectories(dir.resolve("early"));
        Path yaml = serverDir.resolve("targets.yaml");
        Files.writeString(yaml, config("      - {lun: 0, name: b0, backend: memory, size: 16M}", ""));
        Path log = serverDir.resolve("server.log");
        Process p = new ProcessBuilder(ServerProcess.cli("serve", "--config", yaml.toString()))
                .redirectErrorStream(true).redirectOutput(log.toFile()).directory(serverDir.toFile()).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!(Files.exists(log) && Files.readString(log).contains("listening for iSCSI"))) {
                assertThat(p.isAlive()).as("the server runs").isTrue();
                assertThat(System.nanoTime()).as("the server listens").isLessThan(deadline);
                Thread.onSpinWait();
            }
            Tools.run(10, "kill", "-HUP", Long.toString(p.pid())).ok();
            while (!Files.readString(log).contains("reload of")) {
                assertThat(p.isAlive()).as("the SIGHUP did not kill the server:%n%s", Files.readString(log)).isTrue();
                assertThat(System.nanoTime()).as("the SIGHUP reloads").isLessThan(deadline);
                Thread.sleep(10);
            }
            assertThat(p.isAlive()).isTrue();
        } finally {
            p.destroy();
            p.waitFor(15, TimeUnit.SECONDS);
        }
    }

    @Test
    void aWatchedFileReloadsByItselfAndABadEditChangesNothing() throws Exception {
        String one = "      - {lun: 0, name: b0, backend: memory, size: 16M}";
        String two = one + "\n      - {lun: 5, name: b5, backend: memory, size: 8M}";
        try (ServerProcess server = ServerProcess.start(dir.resolve("server"), config(one, ""), "--watch");
             RawInitiator raw = RawInitiator.login(server.port(), "iqn.2026-11.org.rtarget.test:watcher", B)) {
            assertThat(raw.reportLuns()).containsExactly(0);
            // An image beside the configuration, written without pause, must not hold reloads back.
            java.util.concurrent.atomic.AtomicBoolean busy = new java.util.concurrent.atomic.AtomicBoolean(true);
            Thread writer = Thread.ofPlatform().start(() -> {
                for (int i = 0; busy.get(); i++) {
                    try {
                        Files.writeString(server.config().resolveSibling("busy.img"), Integer.toString(i));
                        Thread.sleep(50);
                    } catch (Exception e) {
                        return;
                    }
                }
            });
            // An editor's save: a new file renamed over the old one.
            Path temp = server.config().resolveSibling(".targets.yaml.swp");
            Files.writeString(temp, config(two, ""));
            Files.move(temp, server.config(), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            awaitLog(server, "LUN 5 (b5) added", 1);
            busy.set(false);
            writer.join();
            assertThat(raw.reportLuns()).containsExactly(0, 5);
            RawInitiator.Response told = raw.read10(0, 0, 8, BLOCK);
            assertThat(told.status()).as("the session is told its LUN inventory changed").isEqualTo(2);
            assertThat(told.senseKey()).isEqualTo(0x6);
            assertThat(told.asc()).isEqualTo(0x3F);
            assertThat(told.ascq()).isEqualTo(0x0E);

            // A broken edit written in place: refused with file:line:col in the log, nothing changes.
            Files.writeString(server.config(), config(two.replace("size: 8M", "size: 8XB"), ""));
            awaitLog(server, "reload refused", 1);
            assertThat(server.log()).containsPattern(java.util.regex.Pattern.quote(server.config().toString())
                    + ":\\d+:\\d+: targets\\[1]\\.luns\\[1]\\.size: \"8XB\" is not a size");
            assertThat(raw.reportLuns()).containsExactly(0, 5);
            assertThat(raw.read10(0, 0, 8, BLOCK).status()).as("no new unit attention").isZero();

            // Saving the same content again, or touching the file, reloads nothing.
            Files.writeString(server.config(), config(two.replace("size: 8M", "size: 8XB"), ""));
            Files.setLastModifiedTime(server.config(), java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis()));
            Thread.sleep(2000);
            assertThat(occurrences(server.log(), "changed: reloading")).isEqualTo(2);

            // The fix: LUN 5 goes away again.
            Files.writeString(server.config(), config(one, ""));
            awaitLog(server, "LUN 5 (b5) removed", 1);
            assertThat(raw.reportLuns()).containsExactly(0);
            assertThat(occurrences(server.log(), "changed: reloading")).isEqualTo(3);
        }
    }

    /** Waits (up to 20 s) until {@code text} appears {@code times} times in the server's log. */
    private static void awaitLog(ServerProcess server, String text, int times) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (occurrences(server.log(), text) < times) {
            assertThat(System.nanoTime()).as("waiting for \"%s\" in the log", text).isLessThan(deadline);
            Thread.sleep(100);
        }
    }

    private static int occurrences(String haystack, String needle) {
        int n = 0;
        for (int i = haystack.indexOf(needle); i >= 0; i = haystack.indexOf(needle, i + needle.length())) {
            n++;
        }
        return n;
    }

    private static long threads(long pid) throws Exception {
        try (var s = Files.list(Path.of("/proc/" + pid + "/task"))) {
            return s.count();
        }
    }

    private static long fds(long pid) throws Exception {
        try (var s = Files.list(Path.of("/proc/" + pid + "/fd"))) {
            return s.count();
        }
    }

    /** Heap in use after a full GC, through jcmd (the JDK's own tool): what a leak would grow. */
    private static long heapUsedAfterGcKiB(long pid) throws Exception {
        String jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd").toString();
        Tools.run(60, jcmd, Long.toString(pid), "GC.run").ok();
        String info = Tools.run(60, jcmd, Long.toString(pid), "GC.heap_info").ok().output();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("used (\\d+)K").matcher(info);
        assertThat(m.find()).as(info).isTrue();
        return Long.parseLong(m.group(1));
    }
}
