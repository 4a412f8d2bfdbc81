package org.rtarget.gate;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import org.rtarget.backend.IoFailure;
import org.rtarget.backend.StorageEvents;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The standby gate of one logical unit, between the SCSI core and the LUN's block device
 * (../shared/seeds/ploop-standby-mode.txt, DESIGN.md "Standby semantics").
 *
 * <ul>
 *   <li>Two fuses: the server-wide {@link StandbyKey} and this LUN's standby-enable bit, set while
 *       the LUN, on a backend that promises to signal its recovery, belongs to a target. With
 *       either off the gate touches nothing; a standby flag found set anyway is warned about.</li>
 *   <li>A storage-unavailable failure (errno in the policy's set) turns standby on; from then on
 *       media-access commands are answered BUSY without reaching the backend, for at most
 *       busy-max, then with the policy's fallback.</li>
 *   <li>Only the storage side's recovery signal ({@link #storageRecovered()}) turns it off.</li>
 * </ul>
 *
 * <p>The hot path, {@link #admit()} with no standby, is one volatile read.
 */
public final class StandbyGate implements StorageEvents {
    private static final Logger log = LoggerFactory.getLogger(StandbyGate.class);

    /** What the SCSI core should do with a media-access command before touching the backend. */
    public enum Admission {
        /** Submit it to the backend. */
        PASS,
        /** Answer BUSY (or TASK SET FULL), do not touch the backend. */
        BUSY,
        /** Standby lasted too long: NOT READY, LU not accessible, target port in standby. */
        NOT_READY,
        /** Standby lasted too long: HARDWARE ERROR. */
        HARDWARE_ERROR,
        /** Standby lasted too long: drop the initiator's connection. */
        DROP
    }

    private final String lunName;
    private final StandbyKey key;
    private volatile GatePolicy policy;
    private final StandbyStateFile stateFile;

    private volatile boolean enabled;
    private volatile boolean standby;
    /** Set while the LUN's device is being swapped (a reload): media commands get BUSY for a moment. */
    private volatile boolean paused;
    private volatile long standbySinceNanos;
    private volatile boolean fallbackLogged;
    private long standbyNanosBefore;

    private final MeterRegistry registry;
    private final java.util.List<io.micrometer.core.instrument.Meter> meters = new java.util.ArrayList<>();
    private final Counter busyAnswers;
    private final Counter fallbackAnswers;
    private final Counter toOn;
    private final Counter toOff;
    private final Counter inconsistencies;

    /**
     * @param stateFile where the state is exported, or null
     * @param registry  where the gate's metrics go
     */
    public StandbyGate(String lunName, StandbyKey key, GatePolicy policy, StandbyStateFile stateFile,
                       MeterRegistry registry) {
        this.lunName = lunName;
        this.key = key;
        this.policy = policy;
        this.stateFile = stateFile;
        this.registry = registry;
        Tags tags = Tags.of("lun", lunName);
        this.busyAnswers = Counter.builder("rtarget.standby.busy.answers")
                .description("media-access commands answered BUSY or TASK SET FULL while in standby")
                .tags(tags).register(registry);
        this.fallbackAnswers = Counter.builder("rtarget.standby.fallback.answers")
                .description("commands answered with the fallback after standby-busy-max")
                .tags(tags).register(registry);
        this.toOn = Counter.builder("rtarget.standby.transitions").description("standby state changes")
                .tags(tags).tag("to", "on").register(registry);
        this.toOff = Counter.builder("rtarget.standby.transitions").description("standby state changes")
                .tags(tags).tag("to", "off").register(registry);
        this.inconsistencies = Counter.builder("rtarget.standby.inconsistencies")
                .description("standby flags found set while a fuse is off (warned about, not acted on)")
                .tags(tags).register(registry);
        meters.add(Gauge.builder("rtarget.standby.active", this, g -> g.standby ? 1 : 0)
                .description("1 while the LUN is in standby").tags(tags).register(registry));
        meters.add(Gauge.builder("rtarget.standby.enabled", this, g -> g.enabled ? 1 : 0)
                .description("1 while the LUN's standby-enable fuse is set").tags(tags).register(registry));
        meters.add(FunctionCounter.builder("rtarget.standby.time", this, StandbyGate::secondsInStandby)
                .description("time spent in standby").baseUnit("seconds").tags(tags).register(registry));
        meters.add(busyAnswers);
        meters.add(fallbackAnswers);
        meters.add(toOn);
        meters.add(toOff);
        meters.add(inconsistencies);
        exportState();
    }

    /**
     * A stand-alone gate that never acts (its own key, off; no exported state): for tools and tests
     * that need a LUN without the standby machinery.
     */
    public StandbyGate(String lunName) {
        this(lunName, new StandbyKey(false), GatePolicy.of(java.util.List.of(), java.time.Duration.ofSeconds(60),
                GatePolicy.Fallback.NOT_READY), null, new io.micrometer.core.instrument.simple.SimpleMeterRegistry());
    }

    public String lunName() {
        return lunName;
    }

    /** Sets the per-LUN fuse: the LUN (on a standby-capable backend) was added to a target. */
    public synchronized void enable() {
        enabled = true;
        exportState();
    }

    /** Clears the per-LUN fuse: the LUN was removed from its target. */
    public synchronized void disable() {
        enabled = false;
        exportState();
    }

    public boolean enabled() {
        return enabled;
    }

    /**
     * Holds media commands back (answered BUSY) while a reload swaps the LUN's device; not a
     * standby: nothing is exported or counted as a transition. {@link #resume()} ends it.
     */
    public void pause() {
        paused = true;
    }

    public void resume() {
        paused = false;
    }

    /** Replaces the policy (a reload changed standby settings). */
    public void policy(GatePolicy newPolicy) {
        this.policy = newPolicy;
    }

    public GatePolicy policy() {
        return policy;
    }

    private boolean fusesOn() {
        return enabled && key.on();
    }

    /** Decides on a media-access command before it reaches the backend. */
    public Admission admit() {
        if (!standby) {
            if (paused) {
                busyAnswers.increment();
                return Admission.BUSY;
            }
            return Admission.PASS;
        }
        if (!fusesOn()) {
            inconsistent("a command arrived");
            return Admission.PASS;
        }
        if (System.nanoTime() - standbySinceNanos < policy.busyMax().toNanos()) {
            busyAnswers.increment();
            return Admission.BUSY;
        }
        return fallback();
    }

    /**
     * For commands that do not touch the medium but that path checkers use (TEST UNIT READY): they
     * answer GOOD while BUSY hides the outage, and the fallback once busy-max has passed, so a
     * multipath checker fails the path over exactly when the media commands give up.
     */
    public Admission admitPathCheck() {
        if (!standby) {
            return Admission.PASS;
        }
        if (!fusesOn()) {
            inconsistent("a path check arrived");
            return Admission.PASS;
        }
        if (System.nanoTime() - standbySinceNanos < policy.busyMax().toNanos()) {
            return Admission.PASS;
        }
        return fallback();
    }

    private Admission fallback() {
        fallbackAnswers.increment();
        GatePolicy p = policy;
        if (!fallbackLogged) {
            fallbackLogged = true;
            log.warn("LUN {} has been in standby for {} ms (standby-busy-max): answering {} until its storage recovers",
                    lunName, p.busyMax().toMillis(), p.fallback());
        }
        return switch (p.fallback()) {
            case NOT_READY -> Admission.NOT_READY;
            case HARDWARE_ERROR -> Admission.HARDWARE_ERROR;
            case DROP -> Admission.DROP;
        };
    }

    /**
     * The backend failed a command. Returns true if the command is to be answered BUSY: the
     * failure says the storage is unavailable and both fuses are on (standby turns on if it was
     * off). Otherwise the command gets an ordinary error.
     */
    public boolean failureMeansBusy(IoFailure failure) {
        if (!fusesOn()) {
            if (standby) {
                inconsistent("a backend failure arrived");
            }
            return false;
        }
        if (!policy.storageUnavailable(failure)) {
            return false;
        }
        enterStandby(failure.toString());
        busyAnswers.increment();
        return true;
    }

    /** The storage became unavailable without a failed request showing it (a driver died). */
    @Override
    public void storageLost(IoFailure cause) {
        if (fusesOn()) {
            enterStandby(cause.toString());
        }
    }

    /** The single recovery signal: the storage is usable again, I/O resumes. */
    @Override
    public void storageRecovered() {
        leaveStandby();
    }

    private synchronized void enterStandby(String cause) {
        if (standby) {
            return;
        }
        standbySinceNanos = System.nanoTime();
        fallbackLogged = false;
        standby = true;
        toOn.increment();
        exportState();
        log.warn("LUN {} entered standby ({}): media commands are answered BUSY until its storage recovers",
                lunName, cause);
    }

    private synchronized void leaveStandby() {
        if (!standby) {
            return;
        }
        long lasted = System.nanoTime() - standbySinceNanos;
        standbyNanosBefore += lasted;
        standby = false;
        toOff.increment();
        exportState();
        log.info("LUN {} left standby after {} ms: storage recovered, I/O resumes", lunName, lasted / 1_000_000);
    }

    private void inconsistent(String when) {
        inconsistencies.increment();
        if (inconsistencies.count() <= 1 || (long) inconsistencies.count() % 10_000 == 0) {
            log.warn("LUN {}: standby flag is set but {} is off when {}; ignoring it ({} times so far)", lunName,
                    enabled ? "the global standby-check key" : "the LUN's standby-enable", when,
                    (long) inconsistencies.count());
        }
    }

    /** Whether the LUN is in standby right now. */
    public boolean inStandby() {
        return standby;
    }

    /** The exported state, in the words of /sys/block/DEV/queue/standby. */
    public String state() {
        if (!enabled) {
            return "not supported";
        }
        return standby ? "on" : "off";
    }

    /** Seconds spent in standby since the gate was made, the current stretch included. */
    public synchronized double secondsInStandby() {
        long total = standbyNanosBefore + (standby ? System.nanoTime() - standbySinceNanos : 0);
        return total / 1e9;
    }

    /** Called with the gate's monitor held, so the file always shows the latest state. */
    private synchronized void exportState() {
        if (stateFile != null) {
            stateFile.write(state());
        }
    }

    /** The LUN is gone: remove its exported state. */
    public void removeExportedState() {
        if (stateFile != null) {
            stateFile.remove();
        }
    }

    /**
     * The LUN is gone: its meters leave the registry (a LUN added again under the same name gets
     * fresh ones, and nothing keeps this gate alive).
     */
    public void close() {
        for (io.micrometer.core.instrument.Meter m : meters) {
            registry.remove(m);
        }
        meters.clear();
    }
}
