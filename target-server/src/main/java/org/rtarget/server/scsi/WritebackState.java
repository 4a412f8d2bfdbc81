package org.rtarget.server.scsi;

/**
 * What one initiator port has been told about a logical unit's writeback errors: whether it wrote
 * through the write cache since its last good flush and, if so, how many writeback errors there
 * had been when it did. A flush that succeeds while a newer error exists must not say GOOD to it
 * (its data may be among what was lost); a port that wrote nothing since its last good flush is
 * not concerned. Linux's errseq_t gives every open file the same promise.
 *
 * <p>Shared by the port's I_T_L nexuses of one unit, kept across session reinstatement.
 */
final class WritebackState {
    /** Read without the lock: most writes find the port dirty already. */
    private volatile boolean dirty;
    private long errorsWhenDirtied;

    /** A write of this port was acknowledged from the cache; {@code errors}: the count when it began. */
    void wrote(long errors) {
        if (dirty) {
            return;
        }
        synchronized (this) {
            if (!dirty) {
                errorsWhenDirtied = errors;
                dirty = true;
            }
        }
    }

    /**
     * A flush of this port succeeded with {@code errors} writeback errors counted so far. Returns
     * true if one of them came after this port's first unflushed write: the flush must not say GOOD.
     */
    synchronized boolean flushed(long errors) {
        boolean missed = dirty && errorsWhenDirtied != errors;
        dirty = false;
        return missed;
    }

    /** This port was just told of a writeback error (its flush failed): nothing is owed to it any more. */
    synchronized void told(long errors) {
        dirty = false;
        errorsWhenDirtied = errors;
    }

    /** Whether the port wrote through the cache since its last good flush. */
    boolean dirty() {
        return dirty;
    }
}
