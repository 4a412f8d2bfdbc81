package org.rtarget.gate;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.rtarget.backend.Errno;
import org.rtarget.backend.IoFailure;

/** One gate with its key, registry and (optionally) exported state, plus readers for its metrics. */
final class GateFixture {
    static final String LUN = "lun0";
    /** The errnos that switch standby on by default (DESIGN.md; StandbyConfig.DEFAULT_ERRORS). */
    static final List<Integer> DEFAULT_ERRNOS = List.of(Errno.EBUSY, Errno.ENOTCONN, Errno.EIO);
    static final Duration LONG = Duration.ofSeconds(60);

    final StandbyKey key;
    final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    final StandbyGate gate;

    GateFixture(boolean keyOn, GatePolicy policy, Path stateDir) {
        this.key = new StandbyKey(keyOn);
        this.gate = new StandbyGate(LUN, key, policy,
                stateDir == null ? null : new StandbyStateFile(stateDir, LUN), registry);
    }

    /** Key on, default errnos, 60 s of BUSY, NOT READY after; not yet enabled. */
    static GateFixture standard() {
        return new GateFixture(true, policy(LONG, GatePolicy.Fallback.NOT_READY), null);
    }

    /** Key on and the LUN's fuse set: the gate may act. */
    static GateFixture enabled() {
        GateFixture f = standard();
        f.gate.enable();
        return f;
    }

    static GatePolicy policy(Duration busyMax, GatePolicy.Fallback fallback) {
        return GatePolicy.of(DEFAULT_ERRNOS, busyMax, fallback);
    }

    static IoFailure errno(int errno) {
        return IoFailure.ofErrno(errno, "injected " + Errno.name(errno));
    }

    double transitionsTo(String to) {
        return registry.get("rtarget.standby.transitions").tags("lun", LUN, "to", to).counter().count();
    }

    double busyAnswers() {
        return registry.get("rtarget.standby.busy.answers").tag("lun", LUN).counter().count();
    }

    double fallbackAnswers() {
        return registry.get("rtarget.standby.fallback.answers").tag("lun", LUN).counter().count();
    }

    double inconsistencies() {
        return registry.get("rtarget.standby.inconsistencies").tag("lun", LUN).counter().count();
    }

    double standbySeconds() {
        return registry.get("rtarget.standby.time").tag("lun", LUN).functionCounter().count();
    }

    double activeGauge() {
        return registry.get("rtarget.standby.active").tag("lun", LUN).gauge().value();
    }

    double enabledGauge() {
        return registry.get("rtarget.standby.enabled").tag("lun", LUN).gauge().value();
    }
}
