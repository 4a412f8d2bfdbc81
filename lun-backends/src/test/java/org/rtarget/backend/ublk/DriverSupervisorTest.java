package org.rtarget.backend.ublk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.rtarget.backend.ublk.UblkTestSupport.KIB;
import static org.rtarget.backend.ublk.UblkTestSupport.waitUntil;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rtarget.backend.memory.MemoryDevice;

/** Starting, restarting and giving up on a ublk LUN's driver process. */
class DriverSupervisorTest {

    @TempDir
    Path dir;
    private UblkTestSupport t;
    private UblkDevice device;
    private DriverSupervisor supervisor;

    @BeforeEach
    void setUp() throws IOException {
        t = new UblkTestSupport(dir);
        device = t.device(UblkRecovery.QUEUE, 1, 2, 4 * KIB, Duration.ofSeconds(30));
    }

    @AfterEach
    void tearDown() throws Exception {
        if (supervisor != null) {
            supervisor.close();
        }
        t.close();
    }

    private static List<String> lines(Path file) {
        try {
            return Files.exists(file) ? Files.readAllLines(file).stream().filter(l -> !l.isBlank()).toList() : List.of();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private DriverSupervisor supervise(String script, Duration backoff, int limit) {
        supervisor = new DriverSupervisor("lun0", List.of("sh", "-c", script), device.socketPath(), dir, backoff, limit,
                device);
        supervisor.start();
        return supervisor;
    }

    @Test
    void aDriverThatExitsAtOnceIsRestartedWithDoublingBackoffUntilTheLimit() throws Exception {
        Path starts = dir.resolve("starts");
        Path args = dir.resolve("args");
        // sh -c SCRIPT --socket PATH: the appended arguments are $0 and $1.
        supervise("date +%s%N >> " + starts + "; echo \"$0 $1\" >> " + args + "; exit 3", Duration.ofMillis(50), 3);

        waitUntil("four starts", () -> lines(starts).size() == 4, Duration.ofSeconds(5));
        Thread.sleep(1000); // the next one would come 800 ms after the fourth
        List<Long> at = lines(starts).stream().map(Long::parseLong).toList();
        assertThat(at).as("the first start and three restarts, then no more").hasSize(4);
        assertThat(supervisor.restarts()).isEqualTo(3);
        assertThat(lines(args)).containsOnly("--socket " + device.socketPath());

        // Each exit without reaching LIVE doubles the wait: 100, 200, 400 ms for a back-off of 50 ms.
        long[] gaps = {at.get(1) - at.get(0), at.get(2) - at.get(1), at.get(3) - at.get(2)};
        long[] expected = {100, 200, 400};
        for (int i = 0; i < 3; i++) {
            assertThat(gaps[i] / 1_000_000).as("gap %d (ms)", i + 1).isBetween(expected[i], expected[i] + 90);
        }
    }

    @Test
    void aKilledDriverIsRestartedAndAnExitAfterLiveResetsTheBackoff() throws Exception {
        Path pids = dir.resolve("pids");
        supervise("echo $$ >> " + pids + "; exec sleep 30", Duration.ofMillis(100), 2);

        waitUntil("a driver", () -> lines(pids).size() == 1);
        long first = Long.parseLong(lines(pids).get(0));
        assertThat(ProcessHandle.of(first)).isPresent();
        long killedAt = System.nanoTime();
        ProcessHandle.of(first).orElseThrow().destroyForcibly();
        waitUntil("a second driver", () -> lines(pids).size() == 2);
        long gap = (System.nanoTime() - killedAt) / 1_000_000;
        assertThat(gap).as("restart after an exit that did not reach LIVE (ms)").isBetween(200L, 400L);
        assertThat(supervisor.restarts()).isEqualTo(1);

        // This driver gets the device LIVE (a fake does it for the sleeping process) and is killed.
        t.fake(device).serve(new MemoryDevice(8L * UblkTestSupport.MIB, 512)).startDev();
        long second = Long.parseLong(lines(pids).get(1));
        killedAt = System.nanoTime();
        ProcessHandle.of(second).orElseThrow().destroyForcibly();
        waitUntil("a third driver", () -> lines(pids).size() == 3);
        gap = (System.nanoTime() - killedAt) / 1_000_000;
        assertThat(gap).as("restart after an exit that had reached LIVE (ms)").isBetween(100L, 199L);
        assertThat(supervisor.restarts()).isEqualTo(2);

        // Closing the supervisor stops its driver and restarts nothing.
        long third = Long.parseLong(lines(pids).get(2));
        supervisor.close();
        waitUntil("the third driver ends", () -> ProcessHandle.of(third).map(p -> !p.isAlive()).orElse(true));
        Thread.sleep(300);
        assertThat(lines(pids)).hasSize(3);
    }

    @Test
    void aCommandThatCannotStartCountsAsAFailure() throws Exception {
        supervisor = new DriverSupervisor("lun0", List.of(dir.resolve("no-such-driver").toString()),
                device.socketPath(), dir, Duration.ofMillis(5), 2, device);
        supervisor.start();
        waitUntil("two restarts", () -> supervisor.restarts() == 2);
        Thread.sleep(200);
        assertThat(supervisor.restarts()).isEqualTo(2);
    }
}
