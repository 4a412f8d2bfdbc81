package org.rtarget.gate;

import org.rtarget.backend.IoFailure;

/**
 * The standby gate of one logical unit: it sits between the SCSI core and the LUN's block device.
 *
 * <p>This first version is a pass-through: every media-access command is admitted and every backend
 * failure is reported as an ordinary error. The standby mechanism fills it in.
 */
public final class StandbyGate {

    /** What the SCSI core should do with a media-access command before touching the backend. */
    public enum Admission {
        /** Submit it to the backend. */
        PASS,
        /** Answer BUSY (or TASK SET FULL), do not touch the backend. */
        BUSY,
        /** Standby lasted too long: answer NOT READY, LU not accessible, target port in standby. */
        NOT_READY,
        /** Standby lasted too long: answer HARDWARE ERROR. */
        HARDWARE_ERROR,
        /** Standby lasted too long: drop the initiator's connection. */
        DROP
    }

    private final String lunName;

    public StandbyGate(String lunName) {
        this.lunName = lunName;
    }

    public String lunName() {
        return lunName;
    }

    /** Decides on a media-access command before it reaches the backend. */
    public Admission admit() {
        return Admission.PASS;
    }

    /**
     * Called when the backend failed a command. Returns true if the command is to be answered BUSY
     * (the failure put or found the LUN in standby), false if it is an ordinary error.
     */
    public boolean failureMeansBusy(IoFailure failure) {
        return false;
    }

    /** The exported state, in the words of /sys/block/DEV/queue/standby. */
    public String state() {
        return "not supported";
    }
}
