package org.rtarget.server.scsi;

/**
 * SPC-2 RESERVE and RELEASE, 6- and 10-byte: the whole logical unit for one I_T nexus. Third-party
 * and extent reservations are not supported (INVALID FIELD IN CDB). The rules live in
 * {@link Reservations}.
 */
final class ReserveReleaseOps {
    /** The CDB bits that ask for what we do not support: 3RDPTY, LONGID and the obsolete extent bit. */
    private static final int THIRD_PARTY_OR_EXTENT = 0x13;

    private ReserveReleaseOps() {
    }

    static final class Reserve extends ScsiOp {
        private final boolean ten;

        Reserve(boolean ten, int conflicts) {
            super(ten ? 0x56 : 0x16, ten ? "RESERVE(10)" : "RESERVE(6)", false, true, conflicts,
                    wholeUnitUsage(ten ? 0x56 : 0x16, ten));
            this.ten = ten;
        }

        @Override
        boolean setup(LogicalUnit lu, ScsiCommand c) {
            return checkCdb(c, ten);
        }

        @Override
        void execute(LogicalUnit lu, ScsiCommand c) {
            lu.reservations().reserveSpc2(c.itl).applyTo(c);
            ScsiCore.finish(c);
        }
    }

    static final class Release extends ScsiOp {
        private final boolean ten;

        Release(boolean ten, int conflicts) {
            super(ten ? 0x57 : 0x17, ten ? "RELEASE(10)" : "RELEASE(6)", false, true, conflicts,
                    wholeUnitUsage(ten ? 0x57 : 0x17, ten));
            this.ten = ten;
        }

        @Override
        boolean setup(LogicalUnit lu, ScsiCommand c) {
            return checkCdb(c, ten);
        }

        @Override
        void execute(LogicalUnit lu, ScsiCommand c) {
            lu.reservations().releaseSpc2(c.itl).applyTo(c);
            ScsiCore.finish(c);
        }
    }

    /** Nothing but the control byte is read: every other field belongs to third-party or extent forms. */
    private static byte[] wholeUnitUsage(int opcode, boolean ten) {
        return ten ? ScsiOp.usage(opcode, 0, 0, 0, 0, 0, 0, 0, 0, 0x04) : ScsiOp.usage(opcode, 0, 0, 0, 0, 0x04);
    }

    /** Refuses third-party and extent forms; RESERVE(10)/RELEASE(10) then carry no parameter list. */
    private static boolean checkCdb(ScsiCommand c, boolean ten) {
        boolean unsupported = (c.cdbByte(1) & THIRD_PARTY_OR_EXTENT) != 0 || (ten && c.cdbShort(7) != 0);
        if (unsupported) {
            c.checkCondition(SenseCode.INVALID_FIELD_IN_CDB);
            return false;
        }
        return true;
    }
}
