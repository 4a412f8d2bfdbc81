package org.rtarget.server.scsi;

import io.netty.buffer.ByteBuf;
import java.nio.ByteBuffer;
import org.rtarget.backend.ExtentCallback;
import org.rtarget.backend.IoFailure;

/**
 * Logical block provisioning (SBC-3 4.7): UNMAP, WRITE SAME (10/16, with and without its UNMAP
 * bit) and GET LBA STATUS. Unmapping is offered only on a thin device (one whose backend really
 * releases space); WRITE SAME of zeros unmaps only where unmapped blocks read as zeros (LBPRZ).
 * With the write cache off, each is made durable before it is answered.
 */
final class ProvisioningOps {
    /** Most blocks one UNMAP descriptor may cover (reported in VPD page B0h; libiscsi wants at most 1Mi). */
    static final int MAX_UNMAP_BLOCKS = 1 << 20;
    /** Most descriptors in one UNMAP parameter list. */
    static final int MAX_UNMAP_DESCRIPTORS = 256;
    /**
     * Most blocks one WRITE SAME may cover (reported in VPD page B0h): no more than one READ or WRITE
     * may move, since initiators check a WRITE SAME by reading the range back in one command.
     */
    static int maxWriteSameBlocks(LogicalUnit lu) {
        return LogicalUnit.MAX_TRANSFER_BYTES / lu.blockSize();
    }
    /** WRITE SAME writes its repeated block in pieces of this size. */
    private static final int WRITE_SAME_CHUNK = 1 << 20;

    private ProvisioningOps() {
    }

    /** UNMAP: release every range of the parameter list, one after the other. */
    static final class Unmap extends ScsiOp {
        private static final int HEADER = 8;
        private static final int DESCRIPTOR = 16;

        Unmap(int conflicts) {
            super(0x42, "UNMAP", true, true, conflicts,
                    usage(0x42, 0x01, 0, 0, 0, 0, 0x3F, 0xFF, 0xFF, 0x07));
        }

        @Override
        boolean setup(LogicalUnit lu, ScsiCommand c) {
            if (!lu.thinProvisioned()) {
                c.checkCondition(SenseCode.INVALID_OPCODE);
                return false;
            }
            if ((c.cdbByte(1) & 0x01) != 0) { // ANCHOR: anchored blocks are not supported (ANC_SUP=0)
                c.checkCondition(SenseCode.INVALID_FIELD_IN_CDB);
                return false;
            }
            if (lu.readOnly()) {
                c.checkCondition(SenseCode.WRITE_PROTECTED);
                return false;
            }
            c.direction = ScsiCommand.Direction.OUT;
            c.transferLength = c.cdbShort(7);
            return BlockOps.checkWriteLength(c);
        }

        @Override
        void execute(LogicalUnit lu, ScsiCommand c) {
            int length = c.transferLength;
            if (length == 0) {
                c.good();
                ScsiCore.finish(c);
                return;
            }
            ByteBuf list = c.data;
            int base = list.readerIndex();
            if (length < HEADER) {
                c.checkCondition(SenseCode.PARAMETER_LIST_LENGTH_ERROR);
                ScsiCore.finish(c);
                return;
            }
            int descriptorBytes = Math.min(list.getUnsignedShort(base + 2), length - HEADER);
            int count = descriptorBytes / DESCRIPTOR;
            if (count > MAX_UNMAP_DESCRIPTORS) {
                c.checkCondition(SenseCode.INVALID_FIELD_IN_PARAMETER_LIST);
                ScsiCore.finish(c);
                return;
            }
            long capacity = lu.capacityBlocks();
            for (int i = 0; i < count; i++) {
                long lba = list.getLong(base + HEADER + i * DESCRIPTOR);
                long blocks = list.getUnsignedInt(base + HEADER + i * DESCRIPTOR + 8);
                if (lba < 0 || lba > capacity || blocks > capacity - lba) {
                    c.checkCondition(SenseCode.LBA_OUT_OF_RANGE);
                    ScsiCore.finish(c);
                    return;
                }
                if (blocks > MAX_UNMAP_BLOCKS) {
                    c.checkCondition(SenseCode.INVALID_FIELD_IN_PARAMETER_LIST);
                    ScsiCore.finish(c);
                    return;
                }
            }
            c.blocks = count; // descriptors to go; c.stage is the next one
            c.stage = 0;
            next(lu, c);
        }

        /** Unmaps the next descriptor's range, or ends the command when none is left. */
        private static void next(LogicalUnit lu, ScsiCommand c) {
            ByteBuf list = c.data;
            int base = list.readerIndex();
            while (c.stage < c.blocks) {
                int at = base + HEADER + c.stage * DESCRIPTOR;
                c.stage++;
                long blocks = list.getUnsignedInt(at + 8);
                if (blocks > 0) {
                    lu.device().unmap(list.getLong(at) << lu.blockShift(), blocks << lu.blockShift(), c);
                    return;
                }
            }
            done(lu, c);
        }

        @Override
        void ioCompleted(LogicalUnit lu, ScsiCommand c) {
            if (c.stage == FLUSHED) {
                c.good();
                ScsiCore.finish(c);
            } else {
                next(lu, c);
            }
        }
    }

    /** Marks a command whose last step was its flush. */
    private static final int FLUSHED = -1;

    /**
     * The blocks are changed: with the write cache on that is GOOD now (and the initiator's next
     * flush makes it durable); with it off, only once a flush has made it durable.
     */
    private static void done(LogicalUnit lu, ScsiCommand c) {
        if (!lu.writeCacheEnabled()) {
            c.stage = FLUSHED;
            ScsiCore.flush(lu, c);
            return;
        }
        ScsiCore.cachedWriteDone(c);
        c.good();
        ScsiCore.finish(c);
    }

    /**
     * WRITE SAME (10) and (16): one block of data written over a range, or, with the UNMAP bit and
     * a block of zeros on a thin device, the range released instead.
     */
    static final class WriteSame extends ScsiOp {
        private static final int STAGE_WRITE = 0;
        private static final int STAGE_UNMAP = 1;
        private static final int STAGE_ZEROES = 2;
        private final boolean sixteen;

        WriteSame(boolean sixteen, int conflicts) {
            super(sixteen ? 0x93 : 0x41, sixteen ? "WRITE SAME(16)" : "WRITE SAME(10)", true, true, conflicts,
                    sixteen ? usage(0x93, 0xF9, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                            0x3F, 0x07)
                            : usage(0x41, 0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0x07));
            this.sixteen = sixteen;
        }

        @Override
        boolean setup(LogicalUnit lu, ScsiCommand c) {
            int flags = c.cdbByte(1);
            boolean unmap = (flags & 0x08) != 0;
            boolean noDataOut = sixteen && (flags & 0x01) != 0; // NDOB: a block of zeros, not sent
            if (sixteen) {
                c.lba = c.cdbLong(2);
                c.blocks = (int) Math.min(c.cdbInt(10), Integer.MAX_VALUE);
            } else {
                c.lba = c.cdbInt(2);
                c.blocks = c.cdbShort(7);
            }
            // WRPROTECT, ANCHOR, LBDATA/PBDATA (obsolete): none supported.
            if ((flags & 0xE0) != 0 || (flags & 0x10) != 0 || (flags & 0x06) != 0) {
                c.checkCondition(SenseCode.INVALID_FIELD_IN_CDB);
                return false;
            }
            long capacity = lu.capacityBlocks();
            if (c.lba < 0 || c.lba > capacity || c.blocks > capacity - c.lba) {
                c.checkCondition(SenseCode.LBA_OUT_OF_RANGE);
                return false;
            }
            // WSNZ is set in VPD B0h: zero blocks does not mean "to the end of the medium".
            if (c.blocks == 0 || c.blocks > maxWriteSameBlocks(lu) || (unmap && !lu.thinProvisioned())) {
                c.checkCondition(SenseCode.INVALID_FIELD_IN_CDB);
                return false;
            }
            if (lu.readOnly()) {
                c.checkCondition(SenseCode.WRITE_PROTECTED);
                return false;
            }
            c.unmapBit = unmap;
            if (noDataOut) {
                c.direction = ScsiCommand.Direction.NONE;
                c.transferLength = 0;
                return true;
            }
            c.direction = ScsiCommand.Direction.OUT;
            c.transferLength = lu.blockSize();
            return BlockOps.checkWriteLength(c);
        }

        @Override
        void execute(LogicalUnit lu, ScsiCommand c) {
            ByteBuf block = c.data;
            boolean zeros = block == null || isZero(block, block.readerIndex(), lu.blockSize());
            lu.counters().writeCommands.increment();
            long offset = c.lba << lu.blockShift();
            long length = (long) c.blocks << lu.blockShift();
            // Unmapping stands for writing zeros only where unmapped blocks read back as zeros.
            if (c.unmapBit && zeros && lu.unmapReadsZeros()) {
                c.stage = STAGE_UNMAP;
                lu.device().unmap(offset, length, c);
                return;
            }
            if (zeros && lu.device().writesZeroes()) {
                c.releaseData();
                c.stage = STAGE_ZEROES;
                lu.device().writeZeroes(offset, length, c.unmapBit, c);
                return;
            }
            // Build one chunk of repeated blocks, then write it over the range piece by piece.
            int chunkBlocks = Math.min(c.blocks, WRITE_SAME_CHUNK >> lu.blockShift());
            ByteBuf chunk = c.alloc().directBuffer(chunkBlocks << lu.blockShift());
            for (int i = 0; i < chunkBlocks; i++) {
                if (block == null) {
                    chunk.writeZero(lu.blockSize());
                } else {
                    chunk.writeBytes(block, block.readerIndex(), lu.blockSize());
                }
            }
            c.releaseData();
            c.data = chunk;
            c.stage = STAGE_WRITE;
            c.progress = 0;
            writeNext(lu, c);
        }

        private static void writeNext(LogicalUnit lu, ScsiCommand c) {
            int done = c.progress;
            if (done >= c.blocks) {
                lu.counters().bytesWritten.add((long) c.blocks << lu.blockShift());
                done(lu, c);
                return;
            }
            int chunkBlocks = c.data.readableBytes() >> lu.blockShift();
            int n = Math.min(chunkBlocks, c.blocks - done);
            c.progress = done + n;
            ByteBuffer nio = c.data.nioBuffer(c.data.readerIndex(), n << lu.blockShift());
            lu.device().write((c.lba + done) << lu.blockShift(), nio, c);
        }

        @Override
        void ioCompleted(LogicalUnit lu, ScsiCommand c) {
            switch (c.stage) {
                case STAGE_UNMAP, STAGE_ZEROES -> {
                    if (c.stage == STAGE_ZEROES) {
                        lu.counters().bytesWritten.add((long) c.blocks << lu.blockShift());
                    }
                    done(lu, c);
                }
                case FLUSHED -> {
                    c.good();
                    ScsiCore.finish(c);
                }
                default -> writeNext(lu, c);
            }
        }

        private static boolean isZero(ByteBuf b, int from, int length) {
            for (int i = 0; i < length; i++) {
                if (b.getByte(from + i) != 0) {
                    return false;
                }
            }
            return true;
        }
    }

    /** GET LBA STATUS: the provisioning status of the blocks from an LBA on, as the backend knows it. */
    static final class GetLbaStatus extends ScsiOp {
        static final int SERVICE_ACTION = 0x12;

        GetLbaStatus(int conflicts) {
            super(0x9E, "GET LBA STATUS", true, true, conflicts,
                    usage(0x9E, 0x1F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0x07));
        }

        @Override
        boolean setup(LogicalUnit lu, ScsiCommand c) {
            c.lba = c.cdbLong(2);
            if (c.lba < 0 || c.lba >= lu.capacityBlocks()) {
                c.checkCondition(SenseCode.LBA_OUT_OF_RANGE);
                return false;
            }
            c.direction = ScsiCommand.Direction.IN;
            c.transferLength = (int) Math.min(c.cdbInt(10), 4096);
            return true;
        }

        @Override
        void execute(LogicalUnit lu, ScsiCommand c) {
            long offset = c.lba << lu.blockShift();
            long limit = Math.min(lu.device().size() - offset, (long) MAX_UNMAP_BLOCKS << lu.blockShift());
            // A rare command: a small callback object per call keeps the ExtentCallback honest.
            lu.device().extent(offset, limit, new ExtentCallback() {
                @Override
                public void found(boolean mapped, long length) {
                    ByteBuf out = c.alloc().heapBuffer(24);
                    out.writeInt(20);                       // parameter data length: one descriptor
                    out.writeInt(0);
                    out.writeLong(c.lba);
                    out.writeInt((int) Math.max(1, Math.min(length >>> lu.blockShift(), 0xFFFFFFFFL)));
                    out.writeByte(mapped ? 0 : 1);           // 0: mapped, 1: deallocated
                    out.writeZero(3);
                    if (out.writerIndex() > c.transferLength) {
                        out.writerIndex(c.transferLength);
                    }
                    c.data = out;
                    c.good();
                    ScsiCore.finish(c);
                }

                @Override
                public void failed(IoFailure failure) {
                    c.failed(failure);
                }
            });
        }
    }
}
