package org.rtarget.server.iscsi;

import java.time.Duration;

/** What every connection of the server shares: where targets and sessions live, and timing settings. */
public record ServerContext(
        TargetDirectory directory,
        SessionRegistry sessions,
        int maxRecvDataSegmentLength,
        Duration nopInterval,
        Duration nopTimeout,
        Duration loginTimeout) {
}
