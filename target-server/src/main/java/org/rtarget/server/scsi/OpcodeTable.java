package org.rtarget.server.scsi;

import static org.rtarget.server.scsi.Conflicts.NONE;
import static org.rtarget.server.scsi.Conflicts.PERSISTENT_RESERVE;
import static org.rtarget.server.scsi.Conflicts.READ;
import static org.rtarget.server.scsi.Conflicts.SPC2_RESERVE;
import static org.rtarget.server.scsi.Conflicts.WRITE;

import java.util.ArrayList;
import java.util.List;
import org.rtarget.server.scsi.BlockOps.Form;

/**
 * The one table of SCSI commands this disk understands, indexed by opcode. Each row says whether
 * the command touches the medium (what the standby gate stops), which reservations it conflicts
 * with ({@link Conflicts}, after the SPC-4 and SBC-3 tables) and how it runs. REPORT SUPPORTED
 * OPERATION CODES answers from this table.
 */
final class OpcodeTable {
    private static final ScsiOp[] OPS = new ScsiOp[256];
    /** TEST UNIT READY: the path checkers' command, which the standby gate treats specially. */
    static final ScsiOp TEST_UNIT_READY = new EmulatedOps.NoData(0x00, "TEST UNIT READY", Conflicts.READ);
    private static final ScsiOp INQUIRY = new EmulatedOps.Inquiry(NONE);
    private static final ScsiOp REPORT_LUNS = new EmulatedOps.ReportLuns(NONE);
    private static final ScsiOp REQUEST_SENSE = new EmulatedOps.RequestSense(NONE);
    private static final List<ScsiOp> ROWS;

    static {
        add(TEST_UNIT_READY);
        add(REQUEST_SENSE);
        add(new BlockOps.Read(0x08, "READ(6)", Form.CDB6, READ));
        add(new BlockOps.Write(0x0A, "WRITE(6)", Form.CDB6, false, WRITE));
        add(INQUIRY);
        add(new EmulatedOps.ModeSelect(false, WRITE));
        add(new ReserveReleaseOps.Reserve(false, SPC2_RESERVE));
        add(new ReserveReleaseOps.Release(false, NONE));
        add(new EmulatedOps.ModeSense(false, WRITE));
        // Harmless forms (byte 4): START=1 with power condition 0; PREVENT=0.
        add(new EmulatedOps.MediumControl(0x1B, "START STOP UNIT", WRITE, 0xF1, 0x01));
        add(new EmulatedOps.MediumControl(0x1E, "PREVENT ALLOW MEDIUM REMOVAL", WRITE, 0x03, 0x00));
        add(new EmulatedOps.ReadCapacity10(NONE));
        add(new BlockOps.Read(0x28, "READ(10)", Form.CDB10, READ));
        add(new BlockOps.Write(0x2A, "WRITE(10)", Form.CDB10, false, WRITE));
        add(new BlockOps.Write(0x2E, "WRITE AND VERIFY(10)", Form.CDB10, true, WRITE));
        add(new BlockOps.Verify(0x2F, "VERIFY(10)", Form.CDB10, READ));
        add(new BlockOps.Prefetch(0x34, "PRE-FETCH(10)", Form.CDB10, READ));
        add(new BlockOps.Synchronize(0x35, "SYNCHRONIZE CACHE(10)", Form.CDB10, WRITE));
        add(new ProvisioningOps.WriteSame(false, WRITE));
        add(new ProvisioningOps.Unmap(WRITE));
        add(new EmulatedOps.ModeSelect(true, WRITE));
        add(new ReserveReleaseOps.Reserve(true, SPC2_RESERVE));
        add(new ReserveReleaseOps.Release(true, NONE));
        add(new EmulatedOps.ModeSense(true, WRITE));
        add(new PersistentReserveOps.In(PERSISTENT_RESERVE));
        add(new PersistentReserveOps.Out(PERSISTENT_RESERVE));
        add(new BlockOps.Read(0x88, "READ(16)", Form.CDB16, READ));
        add(new BlockOps.Write(0x8A, "WRITE(16)", Form.CDB16, false, WRITE));
        add(new BlockOps.Write(0x8E, "WRITE AND VERIFY(16)", Form.CDB16, true, WRITE));
        add(new BlockOps.Verify(0x8F, "VERIFY(16)", Form.CDB16, READ));
        add(new BlockOps.Prefetch(0x90, "PRE-FETCH(16)", Form.CDB16, READ));
        add(new BlockOps.Synchronize(0x91, "SYNCHRONIZE CACHE(16)", Form.CDB16, WRITE));
        add(new ProvisioningOps.WriteSame(true, WRITE));
        add(new EmulatedOps.ServiceActionIn16(new EmulatedOps.ReadCapacity16(NONE),
                new ProvisioningOps.GetLbaStatus(READ)));
        add(REPORT_LUNS);
        add(new ReportSupportedOpcodes(NONE));
        add(new BlockOps.Read(0xA8, "READ(12)", Form.CDB12, READ));
        add(new BlockOps.Write(0xAA, "WRITE(12)", Form.CDB12, false, WRITE));
        add(new BlockOps.Write(0xAE, "WRITE AND VERIFY(12)", Form.CDB12, true, WRITE));
        add(new BlockOps.Verify(0xAF, "VERIFY(12)", Form.CDB12, READ));
        List<ScsiOp> rows = new ArrayList<>();
        for (ScsiOp op : OPS) {
            if (op != null) {
                rows.add(op);
            }
        }
        ROWS = List.copyOf(rows);
    }

    private OpcodeTable() {
    }

    private static void add(ScsiOp op) {
        if (OPS[op.opcode()] != null) {
            throw new IllegalStateException("opcode defined twice: " + op.name());
        }
        byte[] usage = op.cdbUsage();
        if (usage.length != Cdb.length(op.opcode()) || (usage[0] & 0xFF) != op.opcode()) {
            throw new IllegalStateException("CDB usage map does not fit the opcode: " + op.name());
        }
        OPS[op.opcode()] = op;
    }

    static ScsiOp lookup(int opcode) {
        return OPS[opcode];
    }

    /** Every row, in opcode order. */
    static List<ScsiOp> all() {
        return ROWS;
    }

    /** The commands a LUN without a unit still answers. */
    static boolean answersWithoutUnit(ScsiOp op) {
        return op == INQUIRY || op == REPORT_LUNS || op == REQUEST_SENSE;
    }
}
