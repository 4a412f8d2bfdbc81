package org.rtarget.server.scsi;

/**
 * One row of the opcode table: what the command is called, whether it touches the medium (the
 * standby gate stops those), whether unit attentions hold it back, and how it is set up, executed
 * and completed.
 */
abstract class ScsiOp {
    private final int opcode;
    private final String name;
    private final boolean mediaAccess;
    private final boolean reportsUnitAttention;

    ScsiOp(int opcode, String name, boolean mediaAccess, boolean reportsUnitAttention) {
        this.opcode = opcode;
        this.name = name;
        this.mediaAccess = mediaAccess;
        this.reportsUnitAttention = reportsUnitAttention;
    }

    final int opcode() {
        return opcode;
    }

    final String name() {
        return name;
    }

    /** True for commands that read or change the medium: the standby gate answers those BUSY. */
    final boolean mediaAccess() {
        return mediaAccess;
    }

    /** False for INQUIRY, REPORT LUNS and REQUEST SENSE, which a pending unit attention lets through. */
    final boolean reportsUnitAttention() {
        return reportsUnitAttention;
    }

    /**
     * Parses and checks the CDB and sets the command's direction and transfer length. Returns false
     * if the command is already finished (with CHECK CONDITION set).
     */
    abstract boolean setup(LogicalUnit lu, ScsiCommand c);

    /** Runs the command; it ends, now or later, with {@link ScsiCore#finish}. */
    abstract void execute(LogicalUnit lu, ScsiCommand c);

    /** A backend operation this command started has completed successfully. */
    void ioCompleted(LogicalUnit lu, ScsiCommand c) {
        c.good();
        ScsiCore.finish(c);
    }
}
