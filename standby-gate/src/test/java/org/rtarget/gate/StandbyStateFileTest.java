package org.rtarget.gate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.rtarget.gate.GateFixture.errno;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rtarget.backend.Errno;
import org.rtarget.backend.IoFailure;

/** The exported state, {@code <state-dir>/block/<lun>/queue/standby}, as sysfs words with a newline. */
class StandbyStateFileTest {
    @TempDir
    Path stateDir;

    private Path standbyFile(String lun) {
        return stateDir.resolve("block").resolve(lun).resolve("queue").resolve("standby");
    }

    private String read(String lun) throws IOException {
        return Files.readString(standbyFile(lun), StandardCharsets.US_ASCII);
    }

    /** Nothing but the state file is left in the queue directory (no half-written temporary). */
    private void onlyTheStateFile(String lun) throws IOException {
        try (Stream<Path> files = Files.list(standbyFile(lun).getParent())) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactly("standby");
        }
    }

    @Test
    void theFileFollowsEveryTransition() throws IOException {
        GateFixture f = new GateFixture(true, GateFixture.policy(GateFixture.LONG, GatePolicy.Fallback.NOT_READY),
                stateDir);
        String lun = GateFixture.LUN;
        assertThat(read(lun)).isEqualTo("not supported\n");

        f.gate.enable();
        assertThat(read(lun)).isEqualTo("off\n");

        f.gate.failureMeansBusy(errno(Errno.ENOSPC)); // an ordinary error: no change
        assertThat(read(lun)).isEqualTo("off\n");

        f.gate.failureMeansBusy(errno(Errno.ENOTCONN));
        assertThat(read(lun)).isEqualTo("on\n");
        f.gate.admit();
        assertThat(read(lun)).isEqualTo("on\n");

        f.gate.storageRecovered();
        assertThat(read(lun)).isEqualTo("off\n");

        f.gate.storageLost(IoFailure.of(IoFailure.Kind.UNAVAILABLE, 0, "driver died"));
        assertThat(read(lun)).isEqualTo("on\n");
        f.gate.storageRecovered();
        assertThat(read(lun)).isEqualTo("off\n");

        f.gate.disable();
        assertThat(read(lun)).isEqualTo("not supported\n");
        onlyTheStateFile(lun);
    }

    @Test
    void aDisabledLunStaysNotSupported() throws IOException {
        GateFixture f = new GateFixture(true, GateFixture.policy(GateFixture.LONG, GatePolicy.Fallback.NOT_READY),
                stateDir);
        f.gate.failureMeansBusy(errno(Errno.ENOTCONN));
        f.gate.storageLost(IoFailure.of(IoFailure.Kind.UNAVAILABLE, 0, "driver died"));
        assertThat(f.gate.inStandby()).isFalse();
        assertThat(read(GateFixture.LUN)).isEqualTo("not supported\n");
        assertThat(f.gate.state()).isEqualTo("not supported");
    }

    @Test
    void withTheKeyOffAnEnabledLunStaysOff() throws IOException {
        GateFixture f = new GateFixture(false, GateFixture.policy(GateFixture.LONG, GatePolicy.Fallback.NOT_READY),
                stateDir);
        f.gate.enable();
        f.gate.failureMeansBusy(errno(Errno.ENOTCONN));
        assertThat(read(GateFixture.LUN)).isEqualTo("off\n");
    }

    @Test
    void eachLunHasItsOwnFile() throws IOException {
        StandbyKey key = new StandbyKey(true);
        GatePolicy policy = GateFixture.policy(GateFixture.LONG, GatePolicy.Fallback.NOT_READY);
        var registry = new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
        StandbyGate a = new StandbyGate("a", key, policy, new StandbyStateFile(stateDir, "a"), registry);
        StandbyGate b = new StandbyGate("b", key, policy, new StandbyStateFile(stateDir, "b"), registry);
        a.enable();
        b.enable();
        a.failureMeansBusy(errno(Errno.EBUSY));
        assertThat(read("a")).isEqualTo("on\n");
        assertThat(read("b")).isEqualTo("off\n");
    }

    @Test
    void removingTheLunRemovesItsDirectory() throws IOException {
        GateFixture f = new GateFixture(true, GateFixture.policy(GateFixture.LONG, GatePolicy.Fallback.NOT_READY),
                stateDir);
        f.gate.enable();
        assertThat(standbyFile(GateFixture.LUN)).exists();

        f.gate.removeExportedState();

        assertThat(standbyFile(GateFixture.LUN)).doesNotExist();
        assertThat(stateDir.resolve("block").resolve(GateFixture.LUN)).doesNotExist();
    }

    @Test
    void theFileClassWritesTheWordAndANewline() throws IOException {
        StandbyStateFile file = new StandbyStateFile(stateDir, "disk7");
        assertThat(file.path()).isEqualTo(standbyFile("disk7"));
        file.write("on");
        assertThat(Files.readAllBytes(standbyFile("disk7"))).isEqualTo("on\n".getBytes(StandardCharsets.US_ASCII));
        file.write("not supported");
        assertThat(read("disk7")).isEqualTo("not supported\n");
        onlyTheStateFile("disk7");
    }
}
