package org.rtarget.gate;

import java.time.Duration;
import java.util.BitSet;
import java.util.Collection;
import org.rtarget.backend.IoFailure;

/**
 * How one LUN's gate behaves: which failures mean "storage unavailable" (by errno), how long it
 * answers BUSY, and what it answers after that.
 */
public record GatePolicy(BitSet standbyErrnos, Duration busyMax, Fallback fallback) {

    /** What a LUN answers once BUSY has lasted {@link #busyMax}. */
    public enum Fallback {
        /** NOT READY, LOGICAL UNIT NOT ACCESSIBLE, TARGET PORT IN STANDBY STATE (04h/0Bh). */
        NOT_READY,
        /** Drop the connections of the initiators that use the LUN. */
        DROP,
        /** HARDWARE ERROR. */
        HARDWARE_ERROR
    }

    public GatePolicy {
        standbyErrnos = (BitSet) standbyErrnos.clone();
    }

    /** A copy: the policy of a running gate cannot be changed through it. */
    @Override
    public BitSet standbyErrnos() {
        return (BitSet) standbyErrnos.clone();
    }

    public static GatePolicy of(Collection<Integer> errnos, Duration busyMax, Fallback fallback) {
        BitSet set = new BitSet();
        errnos.forEach(set::set);
        return new GatePolicy(set, busyMax, fallback);
    }

    /**
     * Whether a failure says the storage cannot be reached: its errno is in the configured set, or,
     * for a failure without an errno (a crashed user-space driver), its class is UNAVAILABLE.
     */
    public boolean storageUnavailable(IoFailure failure) {
        return failure.errno() != 0 ? standbyErrnos.get(failure.errno()) : failure.kind() == IoFailure.Kind.UNAVAILABLE;
    }
}
