package org.rtarget.server.scsi;

/**
 * A sense key with its additional sense code and qualifier, and the fixed-format sense data
 * (SPC-4 4.5.3) built once per code, so answering an error allocates nothing.
 */
public final class SenseCode {
    public static final int NO_SENSE = 0x0;
    public static final int NOT_READY = 0x2;
    public static final int MEDIUM_ERROR = 0x3;
    public static final int HARDWARE_ERROR = 0x4;
    public static final int ILLEGAL_REQUEST = 0x5;
    public static final int UNIT_ATTENTION = 0x6;
    public static final int DATA_PROTECT = 0x7;
    public static final int ABORTED_COMMAND = 0xB;
    public static final int MISCOMPARE = 0xE;

    public static final SenseCode NONE = new SenseCode(NO_SENSE, 0x00, 0x00, "no sense");
    public static final SenseCode INVALID_OPCODE = new SenseCode(ILLEGAL_REQUEST, 0x20, 0x00, "invalid command operation code");
    public static final SenseCode LBA_OUT_OF_RANGE = new SenseCode(ILLEGAL_REQUEST, 0x21, 0x00, "logical block address out of range");
    public static final SenseCode INVALID_FIELD_IN_CDB = new SenseCode(ILLEGAL_REQUEST, 0x24, 0x00, "invalid field in cdb");
    public static final SenseCode INVALID_FIELD_IN_COMMAND_IU = new SenseCode(ILLEGAL_REQUEST, 0x0E, 0x03, "invalid field in command information unit");
    public static final SenseCode LUN_NOT_SUPPORTED = new SenseCode(ILLEGAL_REQUEST, 0x25, 0x00, "logical unit not supported");
    public static final SenseCode PARAMETER_LIST_LENGTH_ERROR = new SenseCode(ILLEGAL_REQUEST, 0x1A, 0x00, "parameter list length error");
    public static final SenseCode INVALID_FIELD_IN_PARAMETER_LIST = new SenseCode(ILLEGAL_REQUEST, 0x26, 0x00, "invalid field in parameter list");
    public static final SenseCode INVALID_RELEASE_OF_PERSISTENT_RESERVATION = new SenseCode(ILLEGAL_REQUEST, 0x26, 0x04, "invalid release of persistent reservation");
    public static final SenseCode INSUFFICIENT_REGISTRATION_RESOURCES = new SenseCode(ILLEGAL_REQUEST, 0x55, 0x04, "insufficient registration resources");
    public static final SenseCode SAVING_PARAMETERS_NOT_SUPPORTED = new SenseCode(ILLEGAL_REQUEST, 0x39, 0x00, "saving parameters not supported");
    public static final SenseCode WRITE_PROTECTED = new SenseCode(DATA_PROTECT, 0x27, 0x00, "write protected");
    public static final SenseCode SPACE_ALLOCATION_FAILED = new SenseCode(DATA_PROTECT, 0x27, 0x07, "space allocation failed write protect");
    public static final SenseCode UNRECOVERED_READ_ERROR = new SenseCode(MEDIUM_ERROR, 0x11, 0x00, "unrecovered read error");
    public static final SenseCode WRITE_ERROR = new SenseCode(MEDIUM_ERROR, 0x0C, 0x00, "write error");
    public static final SenseCode MEDIUM_ERROR_GENERIC = new SenseCode(MEDIUM_ERROR, 0x00, 0x00, "medium error");
    public static final SenseCode INTERNAL_TARGET_FAILURE = new SenseCode(HARDWARE_ERROR, 0x44, 0x00, "internal target failure");
    public static final SenseCode COMMUNICATION_FAILURE = new SenseCode(HARDWARE_ERROR, 0x08, 0x00, "logical unit communication failure");
    public static final SenseCode COMMUNICATION_TIMEOUT = new SenseCode(HARDWARE_ERROR, 0x08, 0x01, "logical unit communication time-out");
    public static final SenseCode NOT_READY_STANDBY = new SenseCode(NOT_READY, 0x04, 0x0B, "logical unit not accessible, target port in standby state");
    public static final SenseCode NOT_READY_MANUAL_INTERVENTION = new SenseCode(NOT_READY, 0x04, 0x03, "logical unit not ready, manual intervention required");
    public static final SenseCode NOT_READY_CAUSE_NOT_REPORTABLE = new SenseCode(NOT_READY, 0x04, 0x00, "logical unit not ready, cause not reportable");
    public static final SenseCode POWER_ON_RESET = new SenseCode(UNIT_ATTENTION, 0x29, 0x00, "power on, reset, or bus device reset occurred");
    public static final SenseCode IT_NEXUS_LOSS = new SenseCode(UNIT_ATTENTION, 0x29, 0x07, "i_t nexus loss occurred");
    public static final SenseCode BUS_DEVICE_RESET = new SenseCode(UNIT_ATTENTION, 0x29, 0x03, "bus device reset function occurred");
    public static final SenseCode MODE_PARAMETERS_CHANGED = new SenseCode(UNIT_ATTENTION, 0x2A, 0x01, "mode parameters changed");
    public static final SenseCode RESERVATIONS_PREEMPTED = new SenseCode(UNIT_ATTENTION, 0x2A, 0x03, "reservations preempted");
    public static final SenseCode RESERVATIONS_RELEASED = new SenseCode(UNIT_ATTENTION, 0x2A, 0x04, "reservations released");
    public static final SenseCode REGISTRATIONS_PREEMPTED = new SenseCode(UNIT_ATTENTION, 0x2A, 0x05, "registrations preempted");
    public static final SenseCode CAPACITY_DATA_CHANGED = new SenseCode(UNIT_ATTENTION, 0x2A, 0x09, "capacity data has changed");
    public static final SenseCode INQUIRY_DATA_CHANGED = new SenseCode(UNIT_ATTENTION, 0x3F, 0x03, "inquiry data has changed");
    public static final SenseCode REPORTED_LUNS_DATA_CHANGED = new SenseCode(UNIT_ATTENTION, 0x3F, 0x0E, "reported luns data has changed");
    public static final SenseCode COMMANDS_CLEARED_BY_ANOTHER_INITIATOR = new SenseCode(UNIT_ATTENTION, 0x2F, 0x00, "commands cleared by another initiator");
    public static final SenseCode DATA_PHASE_ERROR = new SenseCode(ABORTED_COMMAND, 0x4B, 0x00, "data phase error");
    public static final SenseCode MISCOMPARE_DURING_VERIFY = new SenseCode(MISCOMPARE, 0x1D, 0x00, "miscompare during verify operation");

    /** Fixed-format sense data is 18 bytes: 8 header bytes plus 10 additional. */
    public static final int FIXED_LENGTH = 18;

    private final int key;
    private final int asc;
    private final int ascq;
    private final String description;
    private final byte[] fixed;

    private SenseCode(int key, int asc, int ascq, String description) {
        this.key = key;
        this.asc = asc;
        this.ascq = ascq;
        this.description = description;
        this.fixed = fixedFormat(key, asc, ascq, false, 0);
    }

    /** Builds fixed-format sense data; with {@code infoValid} the INFORMATION field holds {@code information}. */
    public static byte[] fixedFormat(int key, int asc, int ascq, boolean infoValid, long information) {
        byte[] s = new byte[FIXED_LENGTH];
        s[0] = (byte) (infoValid ? 0xF0 : 0x70); // current error, fixed format
        s[2] = (byte) key;
        s[3] = (byte) (information >>> 24);
        s[4] = (byte) (information >>> 16);
        s[5] = (byte) (information >>> 8);
        s[6] = (byte) information;
        s[7] = (byte) (FIXED_LENGTH - 8);
        s[12] = (byte) asc;
        s[13] = (byte) ascq;
        return s;
    }

    public int key() {
        return key;
    }

    public int asc() {
        return asc;
    }

    public int ascq() {
        return ascq;
    }

    /** The shared fixed-format sense bytes; callers must not modify them. */
    public byte[] fixedSense() {
        return fixed;
    }

    @Override
    public String toString() {
        return String.format("%X/%02X/%02X %s", key, asc, ascq, description);
    }
}
