package org.rtarget.server;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.rtarget.backend.BlockDevice;
import org.rtarget.backend.IoCallback;
import org.rtarget.backend.IoFailure;
import org.rtarget.gate.StandbyGate;
import org.rtarget.server.scsi.LogicalUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one way a LUN's storage changes under running sessions: an operator's recovery
 * ({@code lun recover}, ploop {@code replace-delta}), a table reload (a new ploop instance), a
 * reload that rebuilds the LUN's backend. Every path takes the same steps:
 *
 * <ol>
 *   <li>hold: the gate is paused, so new media commands are answered BUSY;
 *   <li>drain: wait, at most the LUN's drain-timeout, for the commands at the device;
 *   <li>sync: the old device is flushed: what it acknowledged from its cache must not be left
 *       behind in a cache the new storage does not share; if that fails, or does not finish in
 *       time, it is a writeback error for every initiator that wrote since its last good flush;
 *   <li>switch: inside the device (a recovery) or to a new instance;
 *   <li>a new epoch: commands still on the old storage (a drain that timed out) are answered BUSY
 *       when they return, never GOOD; standby ends if the new storage is usable now;
 *   <li>resume.
 * </ol>
 *
 * A new instance over storage the old one holds exclusively (a ploop top open read-write) is opened
 * only once the old one has drained and closed; if it cannot open, the old configuration is tried
 * again, and failing that the LUN stays in standby on an {@link UnavailableDevice} that the next
 * attempt replaces. Callers hold the LUN's lock: one live operation per LUN at a time.
 */
final class DeviceSwap {
    private static final Logger log = LoggerFactory.getLogger(DeviceSwap.class);

    private DeviceSwap() {
    }

    /** A change made inside the device (it signals storageRecovered itself). */
    @FunctionalInterface
    interface InPlace {
        void run(BlockDevice device) throws IOException;
    }

    /** Where a LUN's new device instance comes from, and what follows once it is in place. */
    interface Replacement {
        /** Opens the new device; null (logged) if it cannot. */
        BlockDevice open();

        /** Opens the device of the old configuration again (the new one failed); null if it cannot. */
        default BlockDevice reopenOld() {
            return null;
        }

        /** Stops what serves the old device besides it (a driver process), after the drain. */
        default void stopOld() {
        }

        /** {@code device} serves the LUN now ({@code fromNew}: it is the new configuration's). */
        void installed(BlockDevice device, boolean fromNew);
    }

    /**
     * Changes the LUN's storage inside its device ({@code change}, e.g. a recovery onto the same or
     * another image), with the hold, drain and sync around it.
     *
     * @throws IOException if the change failed: the device serves as before
     */
    static void inPlace(LogicalUnit unit, Duration drainTimeout, String what, InPlace change) throws IOException {
        StandbyGate gate = unit.gate();
        gate.pause();
        try {
            if (!drain(gate, drainTimeout)) {
                log.warn("LUN {}: {} command(s) still at the storage after {} ms; {} goes ahead: they are answered "
                        + "BUSY when they return", unit.name(), gate.inFlight(), drainTimeout.toMillis(), what);
            }
            BlockDevice device = unit.device();
            sync(device, gate, drainTimeout, unit.name());
            change.run(device);
            gate.storageMoved(); // what still returns from the old storage is not GOOD
        } finally {
            gate.resume();
        }
    }

    /**
     * Puts a new device instance in the LUN's place. Returns null if the new device serves the LUN,
     * else what went wrong (the LUN then serves the old device, the old configuration's device
     * opened again, or, in standby, an {@link UnavailableDevice}).
     */
    static String replace(LogicalUnit unit, Duration drainTimeout, String what, Replacement replacement) {
        StandbyGate gate = unit.gate();
        BlockDevice old = unit.device();
        boolean closeFirst = old.exclusiveStorage();
        BlockDevice fresh = null;
        if (!closeFirst) {
            fresh = replacement.open(); // nothing is held while it opens
            if (fresh == null) {
                return what + ": the new backend could not be opened (see the log); the LUN keeps its old one";
            }
        }
        gate.pause();
        try {
            if (!drain(gate, drainTimeout) && closeFirst) {
                // The new instance would open the very storage the stuck commands may still change.
                return what + ": " + gate.inFlight() + " command(s) still at the storage after "
                        + drainTimeout.toMillis() + " ms; nothing was changed (try again once the storage answers)";
            }
            sync(old, gate, drainTimeout, unit.name());
            replacement.stopOld();
            boolean fromNew = true;
            String error = null;
            if (closeFirst) {
                old.close();
                fresh = replacement.open();
                if (fresh == null) {
                    error = what + ": the new backend could not be opened (see the log)";
                    fresh = replacement.reopenOld();
                    fromNew = false;
                    if (fresh == null) {
                        fresh = new UnavailableDevice(old, "could not be opened again (" + what + ")");
                        error += "; the LUN stays in standby until its storage is back and it is recovered";
                    } else {
                        error += "; the old one was opened again";
                    }
                }
            }
            unit.replaceDevice(fresh);
            fresh.attach(gate);
            if (!closeFirst) {
                old.close();
            }
            replacement.installed(fresh, fromNew);
            gate.storageMoved();
            if (fresh instanceof UnavailableDevice) {
                gate.storageLost(IoFailure.of(IoFailure.Kind.UNAVAILABLE, 0, what + " failed"));
            } else if (fresh.readyWhenOpened()) {
                gate.storageRecovered(); // a new instance under the same identity: vz9's table reload
            } // else a driver-served device recovers when its driver makes it live
            return error;
        } finally {
            gate.resume();
        }
    }

    /** Waits for the commands at the device; false if some are still there after the timeout. */
    private static boolean drain(StandbyGate gate, Duration timeout) {
        try {
            return gate.awaitIdle(timeout);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /**
     * Flushes the old device before it is left: a failure (or no answer within {@code timeout})
     * means data acknowledged from its cache may be lost, which the gate latches as a writeback
     * error. A device that is not open has nothing of ours cached.
     */
    private static void sync(BlockDevice device, StandbyGate gate, Duration timeout, String lun) {
        if (device instanceof UnavailableDevice) {
            return;
        }
        CompletableFuture<IoFailure> done = new CompletableFuture<>();
        device.flush(new IoCallback() {
            @Override
            public void completed() {
                done.complete(null);
            }

            @Override
            public void failed(IoFailure failure) {
                done.complete(failure);
            }
        });
        IoFailure failure;
        try {
            failure = done.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            failure = IoFailure.of(IoFailure.Kind.TIMEOUT, 0, "the old storage did not finish a flush within "
                    + timeout.toMillis() + " ms");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            failure = IoFailure.of(IoFailure.Kind.INTERNAL, 0, "interrupted while flushing the old storage");
        } catch (ExecutionException e) {
            failure = IoFailure.of(IoFailure.Kind.INTERNAL, 0, "flushing the old storage failed: " + e.getCause());
        }
        if (failure != null && failure.kind() != IoFailure.Kind.READ_ONLY) {
            log.warn("LUN {}: the old storage could not be synced before the switch: {}", lun, failure);
            gate.writebackFailed(failure);
        }
    }
}
