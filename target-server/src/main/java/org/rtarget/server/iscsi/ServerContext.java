package org.rtarget.server.iscsi;

import java.time.Duration;

/** What every connection of the server shares: where targets and sessions live, timing settings, metrics. */
public record ServerContext(
        TargetDirectory directory,
        SessionRegistry sessions,
        int maxRecvDataSegmentLength,
        Duration nopInterval,
        Duration nopTimeout,
        Duration loginTimeout,
        IscsiMetrics metrics) {

    /** A context whose metrics go nowhere (tests). */
    public ServerContext(TargetDirectory directory, SessionRegistry sessions, int maxRecvDataSegmentLength,
                         Duration nopInterval, Duration nopTimeout, Duration loginTimeout) {
        this(directory, sessions, maxRecvDataSegmentLength, nopInterval, nopTimeout, loginTimeout,
                IscsiMetrics.unregistered(sessions));
    }
}
