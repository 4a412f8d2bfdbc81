package org.rtarget.backend;

import java.nio.file.Path;

/**
 * A device served by a separate driver process (the ublk backend): what the server needs to
 * supervise that process. Asked of a device through {@link BlockDevice#driverHost()}.
 */
public interface DriverHost {

    /** Where drivers connect. */
    Path driverSocket();

    /** How many times a driver got the device live (started or recovered): progress for a supervisor. */
    long liveCount();

    /** The device state in the driver protocol's words (LIVE, QUIESCED, FAIL_IO, DEAD). */
    String stateName();

    /** Called once if the device dies for good (a crash without recovery): its LUN goes away. */
    void onDead(Runnable action);
}
