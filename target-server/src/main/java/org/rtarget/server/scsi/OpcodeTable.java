package org.rtarget.server.scsi;

import org.rtarget.server.scsi.BlockOps.Form;

/**
 * The one table of SCSI commands this disk understands, indexed by opcode. Each row says whether
 * the command touches the medium (what the standby gate stops) and how it runs.
 */
final class OpcodeTable {
    private static final ScsiOp[] OPS = new ScsiOp[256];
    private static final ScsiOp INQUIRY = new EmulatedOps.Inquiry();
    private static final ScsiOp REPORT_LUNS = new EmulatedOps.ReportLuns();
    private static final ScsiOp REQUEST_SENSE = new EmulatedOps.RequestSense();

    static {
        add(new EmulatedOps.NoData(0x00, "TEST UNIT READY"));
        add(REQUEST_SENSE);
        add(new BlockOps.Read(0x08, "READ(6)", Form.CDB6));
        add(new BlockOps.Write(0x0A, "WRITE(6)", Form.CDB6, false));
        add(INQUIRY);
        add(new EmulatedOps.ModeSelect(false));
        add(new EmulatedOps.ModeSense(false));
        add(new EmulatedOps.NoData(0x1B, "START STOP UNIT"));
        add(new EmulatedOps.NoData(0x1E, "PREVENT ALLOW MEDIUM REMOVAL"));
        add(new EmulatedOps.ReadCapacity10());
        add(new BlockOps.Read(0x28, "READ(10)", Form.CDB10));
        add(new BlockOps.Write(0x2A, "WRITE(10)", Form.CDB10, false));
        add(new BlockOps.Write(0x2E, "WRITE AND VERIFY(10)", Form.CDB10, true));
        add(new BlockOps.Verify(0x2F, "VERIFY(10)", Form.CDB10));
        add(new BlockOps.Prefetch(0x34, "PRE-FETCH(10)", Form.CDB10));
        add(new BlockOps.Synchronize(0x35, "SYNCHRONIZE CACHE(10)", Form.CDB10));
        add(new EmulatedOps.ModeSelect(true));
        add(new EmulatedOps.ModeSense(true));
        add(new BlockOps.Read(0x88, "READ(16)", Form.CDB16));
        add(new BlockOps.Write(0x8A, "WRITE(16)", Form.CDB16, false));
        add(new BlockOps.Write(0x8E, "WRITE AND VERIFY(16)", Form.CDB16, true));
        add(new BlockOps.Verify(0x8F, "VERIFY(16)", Form.CDB16));
        add(new BlockOps.Prefetch(0x90, "PRE-FETCH(16)", Form.CDB16));
        add(new BlockOps.Synchronize(0x91, "SYNCHRONIZE CACHE(16)", Form.CDB16));
        add(new EmulatedOps.ServiceActionIn16());
        add(REPORT_LUNS);
        add(new BlockOps.Read(0xA8, "READ(12)", Form.CDB12));
        add(new BlockOps.Write(0xAA, "WRITE(12)", Form.CDB12, false));
        add(new BlockOps.Write(0xAE, "WRITE AND VERIFY(12)", Form.CDB12, true));
        add(new BlockOps.Verify(0xAF, "VERIFY(12)", Form.CDB12));
    }

    private OpcodeTable() {
    }

    private static void add(ScsiOp op) {
        if (OPS[op.opcode()] != null) {
            throw new IllegalStateException("opcode defined twice: " + op.name());
        }
        OPS[op.opcode()] = op;
    }

    static ScsiOp lookup(int opcode) {
        return OPS[opcode];
    }

    /** The commands a LUN without a unit still answers. */
    static boolean answersWithoutUnit(ScsiOp op) {
        return op == INQUIRY || op == REPORT_LUNS || op == REQUEST_SENSE;
    }
}
