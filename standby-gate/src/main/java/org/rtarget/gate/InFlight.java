package org.rtarget.gate;

import java.util.concurrent.atomic.LongAdder;

/**
 * Counts a LUN's media commands between the SCSI core and the device, cheaply enough for every
 * command, and tells how long the oldest of them may have been stuck.
 *
 * <p>Commands are counted in one of two generations. A periodic {@link #oldestAge} makes the other
 * generation current once every command of it has ended; so while a generation cannot be retired,
 * its commands are at least as old as the moment it stopped being current. That bounds a stuck
 * command's age from below with two counters per generation and no per-command record: a command
 * costs two uncontended adder increments and one volatile read.
 */
final class InFlight {
    private final LongAdder[] started = {new LongAdder(), new LongAdder()};
    private final LongAdder[] ended = {new LongAdder(), new LongAdder()};
    /** The generation new commands join. */
    private volatile int current;
    /** When {@link #current} last changed; read and written by the ticking thread only. */
    private long currentSinceNanos;

    InFlight(long nowNanos) {
        currentSinceNanos = nowNanos;
    }

    /** A command goes to the device: returns its generation, to be given back to {@link #end}. */
    int begin() {
        int g = current;
        started[g].increment();
        return g;
    }

    /** The command of generation {@code g} is done (answered in any way). */
    void end(int g) {
        ended[g].increment();
    }

    /** Commands begun and not yet ended. */
    long outstanding() {
        // ended first: a command that ends between the two reads is then counted in neither
        long done = ended[0].sum() + ended[1].sum();
        return started[0].sum() + started[1].sum() - done;
    }

    /**
     * Called periodically, from one thread. Retires the old generation if it has drained (new
     * commands then join it again) and returns 0; otherwise returns how long its remaining commands
     * have been outstanding at least.
     */
    long oldestAge(long nowNanos) {
        int old = 1 - current;
        long done = ended[old].sum();
        if (started[old].sum() - done <= 0) {
            current = old;
            currentSinceNanos = nowNanos;
            return 0;
        }
        return nowNanos - currentSinceNanos;
    }
}
