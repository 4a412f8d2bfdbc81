package org.rtarget.backend.ublk;

/** The four recovery modes ublk accepts, with their feature flags. */
public enum UblkRecovery {
    /** No USER_RECOVERY: a crash fails I/O and the device goes away. */
    NONE(0),
    /** USER_RECOVERY: requests in the driver's hands fail, queued ones wait for a new driver. */
    QUEUE(UblkProtocol.F_USER_RECOVERY),
    /** USER_RECOVERY_REISSUE: requests in the driver's hands are issued again to the new driver. */
    REISSUE(UblkProtocol.F_USER_RECOVERY | UblkProtocol.F_USER_RECOVERY_REISSUE),
    /** USER_RECOVERY_FAIL_IO: requests in the driver's hands and new ones fail until recovery. */
    FAIL_IO(UblkProtocol.F_USER_RECOVERY | UblkProtocol.F_USER_RECOVERY_FAIL_IO);

    private final int flags;

    UblkRecovery(int flags) {
        this.flags = flags;
    }

    public int flags() {
        return flags;
    }

    public boolean recovers() {
        return this != NONE;
    }
}
