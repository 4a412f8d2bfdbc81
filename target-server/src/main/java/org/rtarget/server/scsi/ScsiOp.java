package org.rtarget.server.scsi;

/**
 * One row of the opcode table: what the command is called, whether it touches the medium (the
 * standby gate stops those), whether unit attentions hold it back, which reservations it conflicts
 * with, which CDB bits it looks at, and how it is set up, executed and completed.
 */
abstract class ScsiOp {
    private static final int[] NO_SERVICE_ACTIONS = {};

    private final int opcode;
    private final String name;
    private final boolean mediaAccess;
    private final boolean reportsUnitAttention;
    private final int conflicts;
    private final byte[] cdbUsage;

    /**
     * @param conflicts the {@link Conflicts} bits: which reservations refuse this command
     * @param cdbUsage  REPORT SUPPORTED OPERATION CODES' usage map: the opcode, then a one for every
     *                  CDB bit setup reads (for a command with service actions, the service action
     *                  bits stay zero here and are filled in per action)
     */
    ScsiOp(int opcode, String name, boolean mediaAccess, boolean reportsUnitAttention, int conflicts,
           byte[] cdbUsage) {
        this.opcode = opcode;
        this.name = name;
        this.mediaAccess = mediaAccess;
        this.reportsUnitAttention = reportsUnitAttention;
        this.conflicts = conflicts;
        this.cdbUsage = cdbUsage;
    }

    /** A usage map from its bytes, written as ints for readability. */
    static byte[] usage(int... bits) {
        byte[] b = new byte[bits.length];
        for (int i = 0; i < bits.length; i++) {
            b[i] = (byte) bits[i];
        }
        return b;
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

    /** The reservations this command conflicts with; a row whose answer depends on the CDB overrides it. */
    int conflicts(ScsiCommand c) {
        return conflicts;
    }

    /** The CDB usage map (shared: do not modify). */
    final byte[] cdbUsage() {
        return cdbUsage;
    }

    /** The service actions this opcode performs (in CDB byte 1, bits 4-0), or none. */
    int[] serviceActions() {
        return NO_SERVICE_ACTIONS;
    }

    /**
     * The row that really handles this CDB: itself, or for an opcode with service actions the row
     * of the action (null if it is not one this target has).
     */
    ScsiOp resolve(ScsiCommand c) {
        return this;
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
