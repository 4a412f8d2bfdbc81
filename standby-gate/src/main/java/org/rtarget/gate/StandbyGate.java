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
 *   <li>Only the storage side's recovery signal ({@link #storageRecovered()}) turns it off, or,
 *       for a standby that a stall began, the stuck commands all coming back.</li>
 *   <li>A recovery starts a new <em>epoch</em>. Each command is counted in ({@link #begin()}) with
 *       the epoch it was submitted in; a failure from an older epoch is a straggler of the storage
 *       that was replaced: that one command is answered BUSY and nothing else changes.</li>
 *   <li>Commands at the device are counted, so a device swap can wait for them
 *       ({@link #awaitIdle}) and a stall (commands stuck longer than the policy's stall-timeout)
 *       puts the LUN in standby for new commands while the stuck ones stay outstanding.</li>
 *   <li>A flush that failed is never forgotten: {@link #writebackFailed} counts writeback errors;
 *       the SCSI core reports them to every initiator that wrote since its last good flush.</li>
 * </ul>
 *
 * <p>The hot path, {@link #admit()} with no standby, is two volatile reads (the standby flag and
 * the pause flag); counting a command in and out costs two uncontended adder increments.
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
    /** Why the LUN is in standby: a stall ends by itself when the stuck commands return. */
    private volatile boolean standbyFromStall;
    /** Bumped by every recovery: commands remember the epoch they were submitted in. */
    private volatile int epoch;
    /** The epoch the LUN's storage last moved to other storage (a switch, not a driver's recovery). */
    private volatile int relocatedAt;
    private final InFlight inFlight = new InFlight(System.nanoTime());
    /** Writeback errors seen so far (failed flushes, a failed sync of a replaced image). */
    private final java.util.concurrent.atomic.AtomicLong writebackErrors = new java.util.concurrent.atomic.AtomicLong();
    private volatile boolean stallLogged;
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
    private final Counter stalls;
    private final Counter writebackErrorCount;

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
        this.stalls = Counter.builder("rtarget.standby.stalls")
                .description("times commands were stuck at the storage longer than stall-timeout")
                .tags(tags).register(registry);
        this.writebackErrorCount = Counter.builder("rtarget.writeback.errors")
                .description("failed flushes: data acknowledged with the write cache on may be lost; reported at "
                        + "the next flush of every initiator that wrote since its last good flush")
                .tags(tags).register(registry);
        meters.add(Gauge.builder("rtarget.lun.inflight", this, g -> g.inFlight.outstanding())
                .description("media commands at the storage").tags(tags).register(registry));
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
        meters.add(stalls);
        meters.add(writebackErrorCount);
        exportState();
    }

    /**
     * A stand-alone gate that never acts (its own key, off; no exported state): for tools and tests
     * that need a LUN without the standby machinery.
     */
    public StandbyGate(String lunName) {
        this(lunName, new StandbyKey(false), GatePolicy.of(java.util.List.of(), java.time.Duration.ofSeconds(60),
                GatePolicy.Fallback.NOT_READY, java.time.Duration.ZERO), null, new io.micrometer.core.instrument.simple.SimpleMeterRegistry());
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
     * The backend failed a command submitted in {@code commandEpoch}. Returns true if the command
     * is to be answered BUSY: either it is a straggler of storage that has been replaced since
     * (whatever the failure; nothing else changes), or the failure says the storage is unavailable and both fuses are on
     * (standby turns on if it was off). Otherwise the command gets an ordinary error.
     */
    public boolean failureMeansBusy(IoFailure failure, int commandEpoch) {
        if (commandEpoch != epoch) {
            busyAnswers.increment();
            return true; // the storage it failed on is no longer the one requests go to
        }
        if (!policy.storageUnavailable(failure)) {
            return false;
        }
        if (!fusesOn()) {
            if (standby) {
                inconsistent("a backend failure arrived");
            }
            return false;
        }
        enterStandby(failure.toString(), false);
        busyAnswers.increment();
        return true;
    }

    /** As {@link #failureMeansBusy(IoFailure, int)} for a command of the current epoch. */
    public boolean failureMeansBusy(IoFailure failure) {
        return failureMeansBusy(failure, epoch);
    }

    /**
     * A failure that says the storage is unavailable but is answered otherwise (a failed flush is
     * never answered BUSY): standby still turns on if the policy says so, for the commands after it.
     */
    public void failureSeen(IoFailure failure, int commandEpoch) {
        if (commandEpoch == epoch && fusesOn() && policy.storageUnavailable(failure)) {
            enterStandby(failure.toString(), false);
        }
    }

    // ----- commands at the device -----

    /**
     * A media command goes to the device (call before {@link #admit()}, so that a swap that pauses
     * the gate and then waits in {@link #awaitIdle} cannot miss it). Returns its generation for
     * {@link #end}; read {@link #epoch()} right after.
     */
    public int begin() {
        return inFlight.begin();
    }

    /** The command counted in with generation {@code generation} is answered. */
    public void end(int generation) {
        inFlight.end(generation);
    }

    /** The current epoch: changes at every recovery and device switch. */
    public int epoch() {
        return epoch;
    }

    /** Media commands at the device now. */
    public long inFlight() {
        return inFlight.outstanding();
    }

    /**
     * Waits until no media command is at the device (with the gate paused, none starts); false if
     * some are still there after {@code timeout}.
     */
    public boolean awaitIdle(java.time.Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        long pause = 1;
        while (inFlight.outstanding() > 0) {
            if (System.nanoTime() - deadline >= 0) {
                return false;
            }
            Thread.sleep(pause);
            pause = Math.min(pause * 2, 50);
        }
        return true;
    }

    /**
     * Called periodically (every few hundred ms, one thread for all gates). Commands stuck longer
     * than stall-timeout put the LUN in standby: new media commands get BUSY while the stuck ones
     * stay outstanding (they are answered when the storage answers, never failed). When none is
     * left, a standby that the stall began ends by itself.
     */
    public void tick(long nowNanos) {
        long age = inFlight.oldestAge(nowNanos);
        long limit = policy.stallTimeout().toNanos();
        if (limit <= 0) {
            return;
        }
        if (age >= limit) {
            if (!stallLogged) {
                stallLogged = true;
                stalls.increment();
                log.warn("LUN {}: {} command(s) at the storage, the oldest for more than {} ms (stall-timeout); "
                        + "they stay outstanding until the storage answers", lunName, inFlight.outstanding(),
                        age / 1_000_000);
            }
            if (fusesOn()) {
                enterStandby("commands stuck at the storage for more than " + policy.stallTimeout().toMillis()
                        + " ms", true);
            }
        } else if (age == 0 && stallLogged && inFlight.outstanding() == 0) {
            stallLogged = false;
            log.info("LUN {}: the stuck commands have all come back", lunName);
            leaveStallStandby();
        }
    }

    // ----- writeback errors -----

    /**
     * A flush failed, or the old image could not be synced before a switch: data acknowledged with
     * the write cache on may be lost. Counted; the SCSI core fails the next flush of every initiator
     * that wrote since its last good flush.
     */
    public void writebackFailed(IoFailure cause) {
        writebackErrors.incrementAndGet();
        writebackErrorCount.increment();
        log.warn("LUN {}: writeback error ({}): the next flush of every initiator that wrote since its last good "
                + "flush is answered WRITE ERROR", lunName, cause);
    }

    /** How many writeback errors there have been (compare two readings to learn of new ones). */
    public long writebackErrors() {
        return writebackErrors.get();
    }

    /** The storage became unavailable without a failed request showing it (a driver died). */
    @Override
    public void storageLost(IoFailure cause) {
        if (fusesOn()) {
            enterStandby(cause.toString(), false);
        }
    }

    @Override
    public void writebackLost(IoFailure cause) {
        writebackFailed(cause);
    }

    /**
     * The single recovery signal: the storage is usable again (or the LUN's device was switched),
     * a new epoch begins, I/O resumes.
     */
    @Override
    public void storageRecovered() {
        newEpoch();
        leaveStandby();
    }

    /**
     * The LUN's storage was switched (a new device instance) without being usable yet: commands
     * still on the old one are stragglers from now on, but standby stays as it is.
     */
    public synchronized void newEpoch() {
        epoch++;
    }

    /**
     * The LUN's requests go to other storage from now on (a recovery onto a reopened or another
     * image, a new device instance): a command that began before succeeded on the old storage, so
     * what it did is not where reads now look ({@link #movedSince}). A driver's recovery is no move:
     * its re-issued requests land where reads look.
     */
    public synchronized void storageMoved() {
        epoch++;
        relocatedAt = epoch;
    }

    /** Whether the storage moved after a command submitted in {@code commandEpoch} began. */
    public boolean movedSince(int commandEpoch) {
        return commandEpoch != epoch && relocatedAt - commandEpoch > 0;
    }

    private synchronized void enterStandby(String cause, boolean fromStall) {
        if (standby) {
            if (!fromStall) {
                standbyFromStall = false; // a failure: now only the storage's recovery ends it
            }
            return;
        }
        standbyFromStall = fromStall;
        standbySinceNanos = System.nanoTime();
        fallbackLogged = false;
        standby = true;
        toOn.increment();
        exportState();
        log.warn("LUN {} entered standby ({}): media commands are answered BUSY until its storage recovers",
                lunName, cause);
    }

    private synchronized void leaveStallStandby() {
        if (standby && standbyFromStall) {
            leaveStandby();
        }
    }

    private synchronized void leaveStandby() {
        if (!standby) {
            return;
        }
        standbyFromStall = false;
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
