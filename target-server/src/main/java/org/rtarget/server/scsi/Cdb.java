package org.rtarget.server.scsi;

/** Facts about CDBs that do not depend on the command: lengths by group, the control byte. */
final class Cdb {
    private Cdb() {
    }

    /** The CDB length an opcode's group implies (SPC-4 4.2.5.1), or 0 for variable/vendor groups. */
    static int length(int opcode) {
        return switch (opcode >>> 5) {
            case 0 -> 6;
            case 1, 2 -> 10;
            case 4 -> 16;
            case 5 -> 12;
            default -> 0;
        };
    }

    /** NACA set in the control byte asks for ACA, which this target does not support. */
    static boolean controlByteInvalid(ScsiCommand c, int opcode) {
        int len = length(opcode);
        if (len == 0 || c.cdb.readableBytes() < len) {
            return false;
        }
        return (c.cdbByte(len - 1) & 0x04) != 0;
    }
}
