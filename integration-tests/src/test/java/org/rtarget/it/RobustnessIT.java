package org.rtarget.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad input closes one connection and nothing else; many initiators at once; session
 * reinstatement; half-finished logins and silent initiators are dropped.
 */
class RobustnessIT {
    static final String IQN = "iqn.2026-11.org.rtarget.test:robust";
    static final int BLOCK = 512;
    @TempDir
    static Path dir;
    static ServerProcess server;

    @BeforeAll
    static void start() throws Exception {
        server = ServerProcess.start(dir, """
                server:
                  portals: ["127.0.0.1:0"]
                  admin: "127.0.0.1:0"
                  login-timeout: 2s
                  nop-interval: 1s
                  nop-timeout: 2s
                targets:
                  - iqn: %s
                    luns:
                      - {lun: 0, name: robust, backend: memory, size: 256M}
                """.formatted(IQN));
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    private static String initiator(String suffix) {
        return "iqn.2026-11.org.rtarget.test:initiator-" + suffix;
    }

    private static byte[] pattern(int length, long seed) {
        byte[] b = new byte[length];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static void roundTrip(RawInitiator session, long lba, long seed) throws IOException {
        byte[] data = pattern(8 * BLOCK, seed);
        assertThat(session.write10(0, lba, data, BLOCK).status()).isZero();
        RawInitiator.Response r = session.read10(0, lba, 8, BLOCK);
        assertThat(r.status()).isZero();
        assertThat(r.data()).isEqualTo(data);
    }

    /** Drains the unit attention a reinstated nexus may carry; returns when TEST UNIT READY is GOOD. */
    private static void ready(RawInitiator session) throws IOException {
        for (int i = 0; i < 4 && session.testUnitReady(0).status() != 0; i++) {
            // each CHECK CONDITION consumed one unit attention
        }
    }

    @Test
    void garbageClosesOnlyItsOwnConnection() throws Exception {
        try (RawInitiator good = RawInitiator.login(server.port(), initiator("good"), IQN)) {
            ready(good);
            roundTrip(good, 100, 1);

            // A SCSI command before any login.
            try (RawInitiator bad = RawInitiator.connect(server.port())) {
                byte[] bhs = new byte[48];
                bhs[0] = 0x01;
                bad.sendRaw(bhs);
                assertThat(bad.closedByServer(5000)).isTrue();
            }
            // Random bytes.
            try (RawInitiator bad = RawInitiator.connect(server.port())) {
                bad.sendRaw(pattern(4096, 7));
                assertThat(bad.closedByServer(5000)).isTrue();
            }
            // A logged-in connection that claims a 16 MiB data segment: refused at the header,
            // without waiting for (or buffering) the data.
            try (RawInitiator bad = RawInitiator.login(server.port(), initiator("liar"), IQN)) {
                ByteBuffer h = ByteBuffer.allocate(48);
                h.put(0, (byte) 0x01).put(1, (byte) 0xA1);
                h.putInt(4, 0x00FF_FFFF);
                h.putInt(20, 0x00FF_FFFF);
                bad.sendRaw(h.array());
                assertThat(bad.closedByServer(5000)).isTrue();
            }
            assertThat(server.log()).contains("more than the 262144 negotiated");
            // The good session never noticed.
            roundTrip(good, 200, 2);
        }
        assertThat(server.alive()).isTrue();
    }

    @Test
    void manyInitiatorsAtOnce() throws Exception {
        int sessions = 24;
        ExecutorService pool = Executors.newFixedThreadPool(sessions);
        try {
            List<Future<?>> results = new ArrayList<>();
            for (int i = 0; i < sessions; i++) {
                int id = i;
                results.add(pool.submit(() -> {
                    try (RawInitiator s = RawInitiator.login(server.port(), initiator("many-" + id), IQN)) {
                        ready(s);
                        for (int round = 0; round < 20; round++) {
                            roundTrip(s, 10_000L + id * 1000L + round * 8L, id * 100L + round);
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : results) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
        // Every session's blocks hold what that session wrote.
        try (RawInitiator check = RawInitiator.login(server.port(), initiator("checker"), IQN)) {
            ready(check);
            for (int id = 0; id < sessions; id++) {
                RawInitiator.Response r = check.read10(0, 10_000L + id * 1000L + 19 * 8L, 8, BLOCK);
                assertThat(r.data()).isEqualTo(pattern(8 * BLOCK, id * 100L + 19));
            }
        }
    }

    @Test
    void aClientThatStopsReadingCannotMakeTheServerBuffer() throws Exception {
        long before = rssKiB(server.pid());
        try (RawInitiator slow = RawInitiator.login(server.port(), initiator("slow"), IQN)) {
            ready(slow);
            long readsBefore = server.admin().lun("robust").path("readCommands").asLong();
            // 120 reads of 8 MiB each (960 MiB of data), all in one write, while never reading an answer.
            slow.sendReads(120, 0, 16384, BLOCK);
            Thread.sleep(3000);
            long during = rssKiB(server.pid());
            long executed = server.admin().lun("robust").path("readCommands").asLong() - readsBefore;
            System.out.printf("RobustnessIT: a client not reading 960 MiB: %d reads executed, RSS %d -> %d KiB%n",
                    executed, before, during);
            // Reads wait, without a buffer, once the socket stops draining: a few run, not 120.
            assertThat(executed).as("reads executed for the slow reader").isLessThan(10);
            assertThat(during - before).as("memory the server holds for the slow reader, KiB").isLessThan(128 * 1024);
            // Others are served meanwhile.
            try (RawInitiator other = RawInitiator.login(server.port(), initiator("meanwhile"), IQN)) {
                ready(other);
                roundTrip(other, 400, 4);
            }
        }
    }

    private static long rssKiB(long pid) throws Exception {
        for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("\\D", ""));
            }
        }
        throw new AssertionError("no VmRSS");
    }

    @Test
    void aSecondLoginWithTheSameIsidReplacesTheFirst() throws Exception {
        try (RawInitiator first = RawInitiator.login(server.port(), initiator("twice"), IQN)) {
            ready(first);
            try (RawInitiator second = RawInitiator.login(server.port(), initiator("twice"), IQN)) {
                assertThat(first.closedByServer(5000)).as("the old session is closed").isTrue();
                ready(second);
                roundTrip(second, 300, 3);
            }
        }
        assertThat(server.log()).contains("session reinstated");
    }

    @Test
    void aHalfFinishedLoginIsDropped() throws Exception {
        try (RawInitiator idle = RawInitiator.connect(server.port())) {
            long start = System.nanoTime();
            assertThat(idle.closedByServer(10_000)).isTrue();
            assertThat((System.nanoTime() - start) / 1_000_000).isBetween(1000L, 6000L);
        }
        assertThat(server.log()).contains("login not completed within 2 s");
    }

    @Test
    void anInitiatorThatStopsAnsweringPingsIsDropped() throws Exception {
        try (RawInitiator silent = RawInitiator.login(server.port(), initiator("silent"), IQN)) {
            // Never read: the server's NOP-In goes unanswered.
            Thread.sleep(500);
            assertThat(silent.closedByServer(10_000)).isTrue();
        }
        assertThat(server.log()).contains("no answer to NOP-In");
    }

    @Test
    void aLoginToAnUnknownTargetGetsNotFound() throws Exception {
        try (RawInitiator r = RawInitiator.connect(server.port())) {
            int status = r.sendLogin(initiator("lost"), "iqn.2026-11.org.rtarget.test:nowhere", 1);
            assertThat(status).isEqualTo(0x0203);
            assertThat(r.closedByServer(5000)).isTrue();
        }
        assertThatThrownBy(() -> RawInitiator.login(server.port(), initiator("lost2"), "iqn.2026-11.org.x:y"))
                .hasMessageContaining("0x0203");
        assertThat(Arrays.asList(server.log().split("\n"))).anyMatch(l -> l.contains("0x0203 target not found"));
    }
}
