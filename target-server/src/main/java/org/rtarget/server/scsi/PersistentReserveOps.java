package org.rtarget.server.scsi;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;
import org.rtarget.server.scsi.Reservations.Outcome;
import org.rtarget.server.scsi.Reservations.Registration;
import org.rtarget.server.scsi.Reservations.Snapshot;

/**
 * PERSISTENT RESERVE IN and OUT (SPC-4 6.15, 6.16): the CDB and parameter list on the wire. The
 * rules live in {@link Reservations}. Not supported, and said so in REPORT CAPABILITIES: persist
 * through power loss (APTPL), ALL_TG_PT, SPEC_I_PT and REGISTER AND MOVE.
 */
final class PersistentReserveOps {
    // PERSISTENT RESERVE IN service actions.
    static final int READ_KEYS = 0x0;
    static final int READ_RESERVATION = 0x1;
    static final int REPORT_CAPABILITIES = 0x2;
    static final int READ_FULL_STATUS = 0x3;

    // PERSISTENT RESERVE OUT service actions (REGISTER AND MOVE, 07h, is not supported).
    static final int REGISTER = 0x0;
    static final int RESERVE = 0x1;
    static final int RELEASE = 0x2;
    static final int CLEAR = 0x3;
    static final int PREEMPT = 0x4;
    static final int PREEMPT_AND_ABORT = 0x5;
    static final int REGISTER_AND_IGNORE_EXISTING_KEY = 0x6;

    private PersistentReserveOps() {
    }

    /** PERSISTENT RESERVE IN (5Eh): reports keys, the reservation, capabilities, full status. */
    static final class In extends EmulatedOps.DataIn {
        private static final int[] SERVICE_ACTIONS = {READ_KEYS, READ_RESERVATION, REPORT_CAPABILITIES, READ_FULL_STATUS};
        // REPORT CAPABILITIES: CRH set (RESERVE/RELEASE follow SPC-4's exceptions); SIP_C, ATP_C,
        // PTPL_C and PTPL_A clear; TMV set with every type in the mask; ALLOW COMMANDS 000b.
        private static final int CRH = 0x10;
        private static final int TMV = 0x80;
        private static final int TYPE_MASK = 0xEA01; // WR_EX_AR, EX_AC_RO, WR_EX_RO, EX_AC, WR_EX; EX_AC_AR
        /** TransportID byte 0: format 01b (name plus ISID), protocol identifier 5h (iSCSI). */
        private static final int ISCSI_PORT_TRANSPORT_ID = 0x45;

        In(int conflicts) {
            super(0x5E, "PERSISTENT RESERVE IN", true, conflicts, usage(0x5E, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0x04));
        }

        @Override
        int[] serviceActions() {
            return SERVICE_ACTIONS;
        }

        @Override
        int allocationLength(ScsiCommand c) {
            return c.cdbShort(7);
        }

        @Override
        SenseCode check(LogicalUnit lu, ScsiCommand c) {
            return (c.cdbByte(1) & 0x1F) > READ_FULL_STATUS ? SenseCode.INVALID_FIELD_IN_CDB : null;
        }

        @Override
        void build(ByteBuf out, LogicalUnit lu, ScsiCommand c) {
            switch (c.cdbByte(1) & 0x1F) {
                case READ_KEYS -> readKeys(out, lu.reservations().snapshot());
                case READ_RESERVATION -> readReservation(out, lu.reservations().snapshot());
                case REPORT_CAPABILITIES -> reportCapabilities(out);
                default -> readFullStatus(out, lu.reservations().snapshot());
            }
        }

        private static void readKeys(ByteBuf out, Snapshot s) {
            out.writeInt(s.generation());
            out.writeInt(s.registrations().size() * 8);
            for (Registration r : s.registrations()) {
                out.writeLong(r.key());
            }
        }

        private static void readReservation(ByteBuf out, Snapshot s) {
            out.writeInt(s.generation());
            if (!s.reserved()) {
                out.writeInt(0);
                return;
            }
            out.writeInt(16);
            out.writeLong(s.reservationKey());
            out.writeInt(0);             // obsolete
            out.writeByte(0);
            out.writeByte(s.type());     // scope 0h: the logical unit
            out.writeShort(0);           // obsolete
        }

        private static void reportCapabilities(ByteBuf out) {
            out.writeShort(8);
            out.writeByte(CRH);
            out.writeByte(TMV);
            out.writeShort(TYPE_MASK);
            out.writeShort(0);
        }

        private static void readFullStatus(ByteBuf out, Snapshot s) {
            out.writeInt(s.generation());
            int lengthAt = out.writerIndex();
            out.writeInt(0);             // additional length, patched below
            for (Registration r : s.registrations()) {
                boolean holds = s.holds(r);
                out.writeLong(r.key());
                out.writeInt(0);
                out.writeByte(holds ? 0x01 : 0x00);  // R_HOLDER; ALL_TG_PT is never set
                out.writeByte(holds ? s.type() : 0); // scope 0h and type, for the holder only
                out.writeInt(0);
                out.writeShort(r.relativeTargetPort());
                byte[] name = r.initiatorPort().getBytes(StandardCharsets.UTF_8);
                // "iqn...,i,0x<ISID>", NUL-terminated, padded to a multiple of four, at least 20 bytes.
                int idLength = Math.max(20, (name.length + 1 + 3) & ~3);
                out.writeInt(4 + idLength);
                out.writeByte(ISCSI_PORT_TRANSPORT_ID);
                out.writeByte(0);
                out.writeShort(idLength);
                out.writeBytes(name);
                out.writeZero(idLength - name.length);
            }
            out.setInt(lengthAt, out.writerIndex() - lengthAt - 4);
        }
    }

    /** PERSISTENT RESERVE OUT (5Fh): a 24-byte parameter list with the keys, then the rules. */
    static final class Out extends ScsiOp {
        private static final int[] SERVICE_ACTIONS = {
            REGISTER, RESERVE, RELEASE, CLEAR, PREEMPT, PREEMPT_AND_ABORT, REGISTER_AND_IGNORE_EXISTING_KEY
        };
        private static final int BASIC_LIST_LENGTH = 24;
        /** Longer lists only come with SPEC_I_PT, which is refused once seen; this bounds what we take in. */
        private static final int MAX_LIST_LENGTH = 8192;
        // Parameter list byte 20.
        private static final int SPEC_I_PT = 0x08;
        private static final int ALL_TG_PT = 0x04;
        private static final int APTPL = 0x01;

        Out(int conflicts) {
            super(0x5F, "PERSISTENT RESERVE OUT", false, true, conflicts,
                    usage(0x5F, 0, 0xFF, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x04));
        }

        @Override
        int[] serviceActions() {
            return SERVICE_ACTIONS;
        }

        @Override
        boolean setup(LogicalUnit lu, ScsiCommand c) {
            int action = c.cdbByte(1) & 0x1F;
            int scope = c.cdbByte(2) >>> 4;
            int type = c.cdbByte(2) & 0x0F;
            boolean namesType = action == RESERVE || action == RELEASE;
            if (action > REGISTER_AND_IGNORE_EXISTING_KEY || (namesType && (scope != 0 || !Reservations.validType(type)))) {
                c.checkCondition(SenseCode.INVALID_FIELD_IN_CDB);
                return false;
            }
            long length = c.cdbInt(5);
            if (length < BASIC_LIST_LENGTH || length > MAX_LIST_LENGTH) {
                c.checkCondition(SenseCode.PARAMETER_LIST_LENGTH_ERROR);
                return false;
            }
            c.direction = ScsiCommand.Direction.OUT;
            c.transferLength = (int) length;
            return BlockOps.checkWriteLength(c);
        }

        @Override
        void execute(LogicalUnit lu, ScsiCommand c) {
            ByteBuf list = c.data;
            int at = list.readerIndex();
            long key = list.getLong(at);
            long serviceActionKey = list.getLong(at + 8);
            int flags = list.getUnsignedByte(at + 20);
            int action = c.cdbByte(1) & 0x1F;
            boolean registers = action == REGISTER || action == REGISTER_AND_IGNORE_EXISTING_KEY;
            if ((flags & SPEC_I_PT) != 0 || (registers && (flags & (ALL_TG_PT | APTPL)) != 0)) {
                c.checkCondition(SenseCode.INVALID_FIELD_IN_PARAMETER_LIST);
            } else if (c.transferLength != BASIC_LIST_LENGTH) {
                c.checkCondition(SenseCode.PARAMETER_LIST_LENGTH_ERROR);
            } else {
                perform(lu.reservations(), c, action, key, serviceActionKey).applyTo(c);
            }
            ScsiCore.finish(c);
        }

        private static Outcome perform(Reservations r, ScsiCommand c, int action, long key, long serviceActionKey) {
            // PREEMPT uses the type only if it takes the reservation; a bad scope makes the type invalid.
            int type = c.cdbByte(2) >>> 4 == 0 ? c.cdbByte(2) & 0x0F : 0;
            return switch (action) {
                case REGISTER -> r.register(c.itl, key, serviceActionKey, false);
                case REGISTER_AND_IGNORE_EXISTING_KEY -> r.register(c.itl, key, serviceActionKey, true);
                case RESERVE -> r.reserve(c.itl, key, type);
                case RELEASE -> r.release(c.itl, key, type);
                case CLEAR -> r.clear(c.itl, key);
                // PREEMPT AND ABORT should also abort the preempted initiators' tasks: that lives in the
                // transport (task management), not here, so it behaves as PREEMPT.
                case PREEMPT, PREEMPT_AND_ABORT -> r.preempt(c.itl, key, serviceActionKey, type);
                default -> throw new IllegalStateException("service action checked in setup: " + action);
            };
        }
    }
}
