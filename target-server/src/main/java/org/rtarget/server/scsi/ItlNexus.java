package org.rtarget.server.scsi;

import java.util.ArrayDeque;

/**
 * An I_T_L nexus: one initiator port, one target port, one LUN number. It carries the unit
 * attentions queued for this initiator on this logical unit. {@link #unit()} is null for a LUN
 * number that names no logical unit (LUN 0 must still answer INQUIRY and REPORT LUNS).
 */
public final class ItlNexus {
    private static final int MAX_PENDING = 8;

    private final ItNexus it;
    private final int lun;
    private final LogicalUnit unit;
    private final ArrayDeque<SenseCode> attentions = new ArrayDeque<>(2);
    /** Read without the lock on every command: unit attentions are rare. */
    private volatile boolean attentionPending;
    private volatile boolean detached;
    private volatile boolean replaced;
    /** The initiator port's name, asked of the transport once (reservations compare it). */
    private volatile String initiatorPort;
    /** The port's writeback bookkeeping on this unit (shared with its other nexuses: see LogicalUnit.attach). */
    private volatile WritebackState writeback = new WritebackState();

    public ItlNexus(ItNexus it, int lun, LogicalUnit unit) {
        this.it = it;
        this.lun = lun;
        this.unit = unit;
    }

    public ItNexus it() {
        return it;
    }

    /** The initiator port's name (iqn plus ISID): what persistent reservation registrations belong to. */
    public String initiatorPort() {
        String port = initiatorPort;
        if (port == null) {
            port = it.initiatorPortName();
            initiatorPort = port;
        }
        return port;
    }

    public int lun() {
        return lun;
    }

    /** The logical unit, or null if this LUN number names none. */
    public LogicalUnit unit() {
        return unit;
    }

    /** Queues a unit attention for this initiator (duplicates and overflow are dropped). */
    public void postUnitAttention(SenseCode code) {
        synchronized (attentions) {
            if (!attentions.contains(code) && attentions.size() < MAX_PENDING) {
                attentions.addLast(code);
            }
            attentionPending = true;
        }
    }

    /** Takes the oldest pending unit attention, or returns null. */
    public SenseCode takeUnitAttention() {
        if (!attentionPending) {
            return null;
        }
        synchronized (attentions) {
            SenseCode code = attentions.pollFirst();
            attentionPending = !attentions.isEmpty();
            return code;
        }
    }

    /** Drops every pending unit attention (the initiator logged out). */
    public void clearUnitAttentions() {
        synchronized (attentions) {
            attentions.clear();
            attentionPending = false;
        }
    }

    public boolean hasUnitAttention() {
        return attentionPending;
    }

    WritebackState writeback() {
        return writeback;
    }

    void writeback(WritebackState state) {
        this.writeback = state;
    }

    /** Marks this nexus as gone: the LUN was removed or the session ended. */
    void markDetached() {
        detached = true;
    }

    public boolean detached() {
        return detached;
    }

    /** A newer nexus of the same initiator port took over (session reinstatement). */
    void markReplaced() {
        replaced = true;
    }

    boolean replaced() {
        return replaced;
    }
}
