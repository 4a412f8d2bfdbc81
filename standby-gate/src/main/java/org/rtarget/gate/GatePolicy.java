package org.rtarget.gate;

import java.time.Duration;
import java.util.BitSet;
import java.util.Collection;
import org.rtarget.backend.IoFailure;

/**
 * How one LUN's gate behaves: which failures mean "storage unavailable" (by errno), how long it
 * answers BUSY, what it answers after that, and how long a command may be stuck at the storage
 * before the LUN counts as stalled ({@link Duration#ZERO}: never).
 */
public record GatePolicy(BitSet standbyErrnos, Duration busyMax, Fallback fallback, Duration stallTimeout) {

    /** What a LUN answers once BUSY has lasted {@link #busyMax}. */
    public enum Fallback {
        /**
         * NOT READY: 04h/0Bh (target port in standby) on a LUN that reports ALUA, else 04h/03h
         * (manual intervention required), which multipath's checkers take for a dead path.
         */
        NOT_READY,
        /** Drop the connections of the initiators that use the LUN. */
        DROP,
        /** HARDWARE ERROR. */
        HARDWARE_ERROR
    }

    public GatePolicy {
        standbyErrnos = (BitSet) standbyErrnos.clone();
        if (stallTimeout.isNegative()) {
            throw new IllegalArgumentException("stall-timeout cannot be negative");
        }
    }

    /** A copy: the policy of a running gate cannot be changed through it. */
    @Override
    public BitSet standbyErrnos() {
        return (BitSet) standbyErrnos.clone();
    }

    /** A policy without stall detection. */
    public static GatePolicy of(Collection<Integer> errnos, Duration busyMax, Fallback fallback) {
        return of(errnos, busyMax, fallback, Duration.ZERO);
    }

    public static GatePolicy of(Collection<Integer> errnos, Duration busyMax, Fallback fallback, Duration stallTimeout) {
        BitSet set = new BitSet();
        errnos.forEach(set::set);
        return new GatePolicy(set, busyMax, fallback, stallTimeout);
    }

    /**
     * Whether a failure says the storage cannot be reached: its errno is in the configured set, or,
     * for a failure without an errno (a crashed user-space driver), its class is UNAVAILABLE.
     */
    public boolean storageUnavailable(IoFailure failure) {
        return failure.errno() != 0 ? standbyErrnos.get(failure.errno()) : failure.kind() == IoFailure.Kind.UNAVAILABLE;
    }
}
