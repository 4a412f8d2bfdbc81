package org.rtarget.server.iscsi;

import java.util.concurrent.CompletableFuture;
import org.rtarget.server.scsi.LogicalUnit;

/**
 * Changes to a running target's LUNs, carried to every session on the session's own event loop
 * (a live reload): a LUN appears, a LUN goes, a device is drained before it is swapped or closed.
 * Sessions of other targets and other LUNs are not touched.
 */
public final class LiveLuns {
    private LiveLuns() {
    }

    /** Every session of {@code target} that may see it gets {@code lun}, and a REPORTED LUNS DATA HAS CHANGED. */
    public static void add(SessionRegistry sessions, IscsiTarget target, int lun, LogicalUnit unit) {
        for (IscsiSession s : sessions.all()) {
            if (s.target() == target) {
                boolean visible = target.acl().lunVisible(s.initiatorName(), lun);
                s.connection().execute(() -> s.lunAdded(lun, unit, visible));
            }
        }
    }

    /**
     * Takes {@code lun} away from every session of {@code target}; completes once the commands that
     * were at its device have come back (so it can be closed).
     */
    public static CompletableFuture<Void> remove(SessionRegistry sessions, IscsiTarget target, int lun,
                                                 LogicalUnit unit) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        AbortBarrier barrier = new AbortBarrier(() -> done.complete(null));
        for (IscsiSession s : sessions.all()) {
            if (s.target() == target) {
                IscsiConnection c = s.connection();
                barrier.hold();
                c.execute(() -> {
                    s.lunRemoved(lun);
                    c.drainUnit(unit, barrier);
                    barrier.release();
                });
            }
        }
        barrier.arm();
        return done;
    }

    /** Completes once no command of any session is at {@code unit}'s device any more. */
    public static CompletableFuture<Void> drain(SessionRegistry sessions, LogicalUnit unit) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        AbortBarrier barrier = new AbortBarrier(() -> done.complete(null));
        for (IscsiSession s : sessions.all()) {
            IscsiConnection c = s.connection();
            barrier.hold();
            c.execute(() -> {
                c.drainUnit(unit, barrier);
                barrier.release();
            });
        }
        barrier.arm();
        return done;
    }

    /** Closes the connections of every session of {@code target} (the target was removed). */
    public static void closeSessions(SessionRegistry sessions, IscsiTarget target, String why) {
        for (IscsiSession s : sessions.all()) {
            if (s.target() == target) {
                s.connection().close(why);
            }
        }
    }
}
