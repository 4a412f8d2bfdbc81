package org.rtarget.server.scsi;

import io.netty.buffer.ByteBuf;

/**
 * MAINTENANCE IN (A3h) with its one service action here, REPORT SUPPORTED OPERATION CODES (0Ch,
 * SPC-4 6.35). The answer is read off the opcode table, so it lists exactly the commands this unit
 * runs, each with the CDB usage map its row declares. Command timeouts are not known: the timeouts
 * descriptors RCTD asks for hold zeros ("no timeout information").
 */
final class ReportSupportedOpcodes extends EmulatedOps.DataIn {
    static final int SERVICE_ACTION = 0x0C;
    private static final int[] SERVICE_ACTIONS = {SERVICE_ACTION};

    // REPORTING OPTIONS (CDB byte 2, bits 2-0) and RCTD (bit 7).
    private static final int ALL_COMMANDS = 0;
    private static final int ONE_COMMAND = 1;
    private static final int ONE_SERVICE_ACTION = 2;
    private static final int ONE_COMMAND_OR_SERVICE_ACTION = 3;
    private static final int RCTD = 0x80;

    // Command descriptor byte 5 (all commands) and one_command byte 1.
    private static final int CTDP = 0x02;
    private static final int SERVACTV = 0x01;
    private static final int ONE_CTDP = 0x80;
    private static final int SUPPORTED = 0x3;      // 011b: supported as a SCSI standard says
    private static final int NOT_SUPPORTED = 0x1;
    private static final int TIMEOUTS_DESCRIPTOR_LENGTH = 0x0A;

    ReportSupportedOpcodes(int conflicts) {
        super(0xA3, "REPORT SUPPORTED OPERATION CODES", true, conflicts,
                usage(0xA3, 0, RCTD | 0x07, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0x04));
    }

    @Override
    int[] serviceActions() {
        return SERVICE_ACTIONS;
    }

    @Override
    int allocationLength(ScsiCommand c) {
        return (int) Math.min(c.cdbInt(6), LogicalUnit.MAX_TRANSFER_BYTES);
    }

    @Override
    SenseCode check(LogicalUnit lu, ScsiCommand c) {
        if ((c.cdbByte(1) & 0x1F) != SERVICE_ACTION) {
            return SenseCode.INVALID_FIELD_IN_CDB; // other MAINTENANCE IN service actions
        }
        int options = c.cdbByte(2) & 0x07;
        if (options > ONE_COMMAND_OR_SERVICE_ACTION) {
            return SenseCode.INVALID_FIELD_IN_CDB;
        }
        // Option 1 is for commands without service actions, option 2 for those with them.
        ScsiOp op = OpcodeTable.lookup(c.cdbByte(3));
        if (op != null && (options == ONE_COMMAND || options == ONE_SERVICE_ACTION)
                && hasServiceActions(op) != (options == ONE_SERVICE_ACTION)) {
            return SenseCode.INVALID_FIELD_IN_CDB;
        }
        return null;
    }

    @Override
    void build(ByteBuf out, LogicalUnit lu, ScsiCommand c) {
        boolean timeouts = (c.cdbByte(2) & RCTD) != 0;
        if ((c.cdbByte(2) & 0x07) == ALL_COMMANDS) {
            allCommands(out, timeouts);
        } else {
            oneCommand(out, OpcodeTable.lookup(c.cdbByte(3)), c.cdbShort(4), timeouts);
        }
    }

    private static void allCommands(ByteBuf out, boolean timeouts) {
        int lengthAt = out.writerIndex();
        out.writeInt(0); // command data length, patched below
        for (ScsiOp op : OpcodeTable.all()) {
            if (!hasServiceActions(op)) {
                commandDescriptor(out, op, 0, false, timeouts);
            }
            for (int action : op.serviceActions()) {
                commandDescriptor(out, op, action, true, timeouts);
            }
        }
        out.setInt(lengthAt, out.writerIndex() - lengthAt - 4);
    }

    private static void commandDescriptor(ByteBuf out, ScsiOp op, int action, boolean servactv, boolean timeouts) {
        out.writeByte(op.opcode());
        out.writeByte(0);
        out.writeShort(action);
        out.writeByte(0);
        out.writeByte((timeouts ? CTDP : 0) | (servactv ? SERVACTV : 0));
        out.writeShort(op.cdbUsage().length);
        if (timeouts) {
            timeoutsDescriptor(out);
        }
    }

    /** The one_command format; the requested service action counts only for a command that has them. */
    private static void oneCommand(ByteBuf out, ScsiOp op, int action, boolean timeouts) {
        boolean supported = op != null && (!hasServiceActions(op) || performs(op, action));
        out.writeByte(0);
        if (!supported) {
            out.writeByte(NOT_SUPPORTED);
            out.writeShort(0);
            return;
        }
        byte[] usage = op.cdbUsage();
        out.writeByte((timeouts ? ONE_CTDP : 0) | SUPPORTED);
        out.writeShort(usage.length);
        int usageAt = out.writerIndex();
        out.writeBytes(usage);
        if (hasServiceActions(op)) {
            // The usage data carries the service action itself in its field (CDB byte 1, bits 4-0).
            out.setByte(usageAt + 1, usage[1] | action);
        }
        if (timeouts) {
            timeoutsDescriptor(out);
        }
    }

    private static void timeoutsDescriptor(ByteBuf out) {
        out.writeShort(TIMEOUTS_DESCRIPTOR_LENGTH);
        out.writeByte(0);
        out.writeByte(0);   // command specific
        out.writeInt(0);    // nominal command processing timeout: not known
        out.writeInt(0);    // recommended command timeout: not known
    }

    private static boolean hasServiceActions(ScsiOp op) {
        return op.serviceActions().length > 0;
    }

    private static boolean performs(ScsiOp op, int action) {
        for (int a : op.serviceActions()) {
            if (a == action) {
                return true;
            }
        }
        return false;
    }
}
