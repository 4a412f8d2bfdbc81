package org.rtarget.server.scsi;

import io.netty.buffer.ByteBuf;
import java.nio.ByteBuffer;

/**
 * The commands that move blocks: READ and WRITE (6/10/12/16), WRITE AND VERIFY, VERIFY,
 * SYNCHRONIZE CACHE and PRE-FETCH. They share one decoding of LBA and length per CDB size.
 */
final class BlockOps {
    private BlockOps() {
    }

    /** Where LBA and length sit in each CDB form. */
    enum Form { CDB6, CDB10, CDB12, CDB16 }

    /** Byte 1 bits the commands read: RDPROTECT/WRPROTECT/VRPROTECT, DPO, FUA, BYTCHK. */
    private static final int PROTECT = 0xE0;
    private static final int DPO = 0x10;
    private static final int FUA = 0x08;
    private static final int BYTCHK = 0x06;

    /** The CDB usage map of a block command: byte 1's {@code flags}, then LBA and length by form. */
    static byte[] blockUsage(int opcode, Form form, int flags) {
        return switch (form) {
            case CDB6 -> ScsiOp.usage(opcode, 0x1F, 0xFF, 0xFF, 0xFF, 0x04);
            case CDB10 -> ScsiOp.usage(opcode, flags, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0xFF, 0xFF, 0x04);
            case CDB12 -> ScsiOp.usage(opcode, flags, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x04);
            case CDB16 -> ScsiOp.usage(opcode, flags, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x04);
        };
    }

    /** Reads LBA and block count from the CDB into the command. */
    static void decode(ScsiCommand c, Form form) {
        switch (form) {
            case CDB6 -> {
                c.lba = ((c.cdbByte(1) & 0x1F) << 16) | c.cdbShort(2);
                int n = c.cdbByte(4);
                c.blocks = n == 0 ? 256 : n;
            }
            case CDB10 -> {
                c.lba = c.cdbInt(2);
                c.blocks = c.cdbShort(7);
            }
            case CDB12 -> {
                c.lba = c.cdbInt(2);
                c.blocks = (int) Math.min(c.cdbInt(6), Integer.MAX_VALUE);
            }
            case CDB16 -> {
                c.lba = c.cdbLong(2);
                c.blocks = (int) Math.min(c.cdbInt(10), Integer.MAX_VALUE);
            }
        }
    }

    /**
     * Checks the block range against the capacity and the transfer limit. SBC: a range past the end
     * is LBA OUT OF RANGE, even for zero blocks starting past the end.
     */
    static boolean checkRange(LogicalUnit lu, ScsiCommand c) {
        long capacity = lu.capacityBlocks();
        if (c.lba < 0 || c.lba > capacity || c.blocks > capacity - c.lba) {
            c.checkCondition(SenseCode.LBA_OUT_OF_RANGE);
            return false;
        }
        if ((long) c.blocks << lu.blockShift() > LogicalUnit.MAX_TRANSFER_BYTES) {
            c.checkCondition(SenseCode.INVALID_FIELD_IN_CDB);
            return false;
        }
        return true;
    }

    /** For writes: the initiator must offer at least as much data as the CDB moves. */
    static boolean checkWriteLength(ScsiCommand c) {
        if (c.expectedLength < c.transferLength) {
            c.checkCondition(SenseCode.INVALID_FIELD_IN_COMMAND_IU);
            return false;
        }
        return true;
    }

    static final class Read extends ScsiOp {
        private final Form form;

        Read(int opcode, String name, Form form, int conflicts) {
            // DPO and FUA are accepted: every read goes to the backend (MODE SENSE says DPOFUA).
            super(opcode, name, true, true, conflicts, blockUsage(opcode, form, PROTECT | DPO | FUA));
            this.form = form;
        }

        @Override
        boolean setup(LogicalUnit lu, ScsiCommand c) {
            decode(c, form);
            // RDPROTECT: this target keeps no protection information.
            if (form != Form.CDB6 && (c.cdbByte(1) & 0xE0) != 0) {
                c.checkCondition(SenseCode.INVALID_FIELD_IN_CDB);
                return false;
            }
            if (!checkRange(lu, c)) {
                return false;
            }
            c.direction = ScsiCommand.Direction.IN;
            c.transferLength = c.blocks << lu.blockShift();
            return true;
        }

        @Override
        void execute(LogicalUnit lu, ScsiCommand c) {
            int len = c.transferLength;
            lu.counters().readCommands.increment();
            if (len == 0) {
                c.good();
                ScsiCore.finish(c);
                return;
            }
            ByteBuf buf = c.alloc().directBuffer(len, len);
            c.data = buf;
            lu.device().read(c.lba << lu.blockShift(), buf.nioBuffer(0, len), c);
        }

        @Override
        void ioCompleted(LogicalUnit lu, ScsiCommand c) {
            c.data.writerIndex(c.transferLength);
            lu.counters().bytesRead.add(c.transferLength);
            c.good();
            ScsiCore.finish(c);
        }
    }

    /** WRITE, and WRITE AND VERIFY (which here means: write through to stable storage). */
    static final class Write extends ScsiOp {
        private static final int STAGE_WRITE = 0;
        private static final int STAGE_FLUSH = 1;
        private final Form form;
        private final boolean verify;

        Write(int opcode, String name, Form form, boolean verify, int conflicts) {
            super(opcode, name, true, true, conflicts, blockUsage(opcode, form, verify ? PROTECT | DPO : PROTECT | DPO | FUA));
            this.form = form;
            this.verify = verify;
        }

        @Override
        boolean setup(LogicalUnit lu, ScsiCommand c) {
            decode(c, form);
            if (form != Form.CDB6 && (c.cdbByte(1) & 0xE0) != 0) { // WRPROTECT
                c.checkCondition(SenseCode.INVALID_FIELD_IN_CDB);
                return false;
            }
            if (!checkRange(lu, c)) {
                return false;
            }
            if (lu.readOnly()) {
                c.checkCondition(SenseCode.WRITE_PROTECTED);
                return false;
            }
            c.direction = ScsiCommand.Direction.OUT;
            c.requestedLength = c.blocks << lu.blockShift();
            if (c.expectedLength < c.requestedLength) {
                // Less data offered than the CDB names: write the whole blocks offered (libiscsi's
                // residual tests expect GOOD with residual overflow for this).
                c.blocks = c.expectedLength >>> lu.blockShift();
            }
            c.transferLength = c.blocks << lu.blockShift();
            c.fua = verify || (form != Form.CDB6 && (c.cdbByte(1) & 0x08) != 0);
            return true;
        }

        @Override
        void execute(LogicalUnit lu, ScsiCommand c) {
            lu.counters().writeCommands.increment();
            if (c.transferLength == 0) {
                c.good();
                ScsiCore.finish(c);
                return;
            }
            c.stage = STAGE_WRITE;
            ByteBuf buf = c.data;
            ByteBuffer nio = buf.nioBuffer(buf.readerIndex(), c.transferLength);
            lu.device().write(c.lba << lu.blockShift(), nio, c);
        }

        @Override
        void ioCompleted(LogicalUnit lu, ScsiCommand c) {
            if (c.stage == STAGE_WRITE) {
                lu.counters().bytesWritten.add(c.transferLength);
                // FUA, or a disk whose write cache is off: acknowledge only what is stable.
                if (c.fua || !lu.writeCacheEnabled()) {
                    c.stage = STAGE_FLUSH;
                    ScsiCore.flush(lu, c);
                    return;
                }
                ScsiCore.cachedWriteDone(c);
            }
            c.good();
            ScsiCore.finish(c);
        }
    }

    /** VERIFY: with BYTCHK the data-out is compared with the medium; without it, a range check. */
    static final class Verify extends ScsiOp {
        private final Form form;

        Verify(int opcode, String name, Form form, int conflicts) {
            super(opcode, name, true, true, conflicts, blockUsage(opcode, form, PROTECT | DPO | BYTCHK));
            this.form = form;
        }

        @Override
        boolean setup(LogicalUnit lu, ScsiCommand c) {
            decode(c, form);
            int flags = c.cdbByte(1);
            int bytchk = (flags >>> 1) & 0x03;
            if ((flags & 0xE0) != 0 || bytchk == 2) {
                c.checkCondition(SenseCode.INVALID_FIELD_IN_CDB);
                return false;
            }
            if (!checkRange(lu, c)) {
                return false;
            }
            c.stage = bytchk;
            if (bytchk == 0 || c.blocks == 0) {
                c.direction = ScsiCommand.Direction.NONE;
                c.transferLength = 0;
                return true;
            }
            c.direction = ScsiCommand.Direction.OUT;
            c.transferLength = bytchk == 3 ? lu.blockSize() : c.blocks << lu.blockShift();
            return checkWriteLength(c);
        }

        @Override
        void execute(LogicalUnit lu, ScsiCommand c) {
            if (c.direction == ScsiCommand.Direction.NONE) {
                c.good();
                ScsiCore.finish(c);
                return;
            }
            // Read the range into a second buffer, then compare in ioCompleted.
            int len = c.blocks << lu.blockShift();
            ByteBuf medium = c.alloc().directBuffer(len, len);
            c.verifyBuffer = medium;
            lu.device().read(c.lba << lu.blockShift(), medium.nioBuffer(0, len), c);
        }

        @Override
        void ioCompleted(LogicalUnit lu, ScsiCommand c) {
            ByteBuf medium = c.verifyBuffer;
            c.verifyBuffer = null;
            try {
                int len = c.blocks << lu.blockShift();
                medium.writerIndex(len);
                ByteBuf expected = c.data;
                int base = expected.readerIndex();
                int step = c.transferLength; // one block for BYTCHK=3, else the whole range
                for (int off = 0; off < len; off++) {
                    if (medium.getByte(off) != expected.getByte(base + (off % step))) {
                        c.checkCondition(SenseCode.fixedFormat(SenseCode.MISCOMPARE, 0x1D, 0x00, true, off));
                        ScsiCore.finish(c);
                        return;
                    }
                }
                c.good();
                ScsiCore.finish(c);
            } finally {
                medium.release();
            }
        }
    }

    /** SYNCHRONIZE CACHE 10/16: flush the whole device (a range flush is a whole flush here). */
    static final class Synchronize extends ScsiOp {
        private final Form form;

        Synchronize(int opcode, String name, Form form, int conflicts) {
            super(opcode, name, true, true, conflicts, blockUsage(opcode, form, 0)); // IMMED and SYNC_NV are ignored
            this.form = form;
        }

        @Override
        boolean setup(LogicalUnit lu, ScsiCommand c) {
            decode(c, form);
            long capacity = lu.capacityBlocks();
            if (c.lba < 0 || c.lba > capacity || c.blocks > capacity - c.lba) {
                c.checkCondition(SenseCode.LBA_OUT_OF_RANGE);
                return false;
            }
            return true;
        }

        @Override
        void execute(LogicalUnit lu, ScsiCommand c) {
            ScsiCore.flush(lu, c); // ScsiCore checks its success against writeback errors missed
        }
    }

    /** PRE-FETCH 10/16: nothing to prefetch into; a range check and CONDITION MET-free GOOD. */
    static final class Prefetch extends ScsiOp {
        private final Form form;

        Prefetch(int opcode, String name, Form form, int conflicts) {
            super(opcode, name, true, true, conflicts, blockUsage(opcode, form, 0)); // IMMED is ignored
            this.form = form;
        }

        @Override
        boolean setup(LogicalUnit lu, ScsiCommand c) {
            decode(c, form);
            long capacity = lu.capacityBlocks();
            if (c.lba < 0 || c.lba > capacity || c.blocks > capacity - c.lba) {
                c.checkCondition(SenseCode.LBA_OUT_OF_RANGE);
                return false;
            }
            return true;
        }

        @Override
        void execute(LogicalUnit lu, ScsiCommand c) {
            c.good();
            ScsiCore.finish(c);
        }
    }
}
