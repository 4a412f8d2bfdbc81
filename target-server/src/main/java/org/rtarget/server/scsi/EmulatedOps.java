package org.rtarget.server.scsi;

import io.netty.buffer.ByteBuf;

/**
 * Commands the core answers from its own state, without the medium: INQUIRY, REPORT LUNS, REQUEST
 * SENSE, TEST UNIT READY, READ CAPACITY, MODE SENSE and MODE SELECT, START STOP UNIT, PREVENT
 * ALLOW MEDIUM REMOVAL. Those marked "noUnit-safe" also answer for a LUN without a unit.
 */
final class EmulatedOps {
    private EmulatedOps() {
    }

    /** A command that returns data built in memory, cut to the CDB's allocation length. */
    abstract static class DataIn extends ScsiOp {
        DataIn(int opcode, String name, boolean reportsUnitAttention, int conflicts, byte[] cdbUsage) {
            super(opcode, name, false, reportsUnitAttention, conflicts, cdbUsage);
        }

        /** The allocation length from the CDB. */
        abstract int allocationLength(ScsiCommand c);

        /** Checks CDB fields; returns the sense to report, or null. */
        abstract SenseCode check(LogicalUnit lu, ScsiCommand c);

        /** Writes the full response; it is cut to the allocation length afterwards. */
        abstract void build(ByteBuf out, LogicalUnit lu, ScsiCommand c);

        @Override
        final boolean setup(LogicalUnit lu, ScsiCommand c) {
            SenseCode error = check(lu, c);
            if (error != null) {
                c.checkCondition(error);
                return false;
            }
            c.direction = ScsiCommand.Direction.IN;
            c.transferLength = allocationLength(c);
            return true;
        }

        @Override
        final void execute(LogicalUnit lu, ScsiCommand c) {
            ByteBuf out = c.alloc().heapBuffer(256);
            build(out, lu, c);
            if (out.writerIndex() > c.transferLength) {
                out.writerIndex(c.transferLength);
            }
            c.data = out;
            c.good();
            ScsiCore.finish(c);
        }
    }

    /** A command with no data that only answers GOOD (TEST UNIT READY: the CDB holds nothing to read). */
    static class NoData extends ScsiOp {
        NoData(int opcode, String name, int conflicts) {
            this(opcode, name, conflicts, usage(opcode, 0, 0, 0, 0, 0x04));
        }

        NoData(int opcode, String name, int conflicts, byte[] cdbUsage) {
            super(opcode, name, false, true, conflicts, cdbUsage);
        }

        @Override
        boolean setup(LogicalUnit lu, ScsiCommand c) {
            return true;
        }

        @Override
        void execute(LogicalUnit lu, ScsiCommand c) {
            c.good();
            ScsiCore.finish(c);
        }
    }

    /**
     * START STOP UNIT and PREVENT ALLOW MEDIUM REMOVAL: nothing to do on a fixed disk. SBC lets their
     * harmless forms (START=1 with power condition 0; PREVENT=0) through persistent reservations:
     * the form is harmless when CDB byte 4, masked with {@code mask}, equals {@code harmless}.
     */
    static final class MediumControl extends NoData {
        private final int mask;
        private final int harmless;

        MediumControl(int opcode, String name, int conflicts, int mask, int harmless) {
            super(opcode, name, conflicts, usage(opcode, 0, 0, 0, mask, 0x04));
            this.mask = mask;
            this.harmless = harmless;
        }

        @Override
        int conflicts(ScsiCommand c) {
            return (c.cdbByte(4) & mask) == harmless ? Conflicts.SPC2_OTHER : super.conflicts(c);
        }
    }

    static final class Inquiry extends DataIn {
        Inquiry(int conflicts) {
            super(0x12, "INQUIRY", false, conflicts, usage(0x12, 0x01, 0xFF, 0xFF, 0xFF, 0x04));
        }

        @Override
        int allocationLength(ScsiCommand c) {
            return c.cdbShort(3);
        }

        @Override
        SenseCode check(LogicalUnit lu, ScsiCommand c) {
            boolean evpd = (c.cdbByte(1) & 0x01) != 0;
            int page = c.cdbByte(2);
            if ((c.cdbByte(1) & 0xFE) != 0 || (!evpd && page != 0)) {
                return SenseCode.INVALID_FIELD_IN_CDB;
            }
            if (evpd && lu == null) {
                return SenseCode.LUN_NOT_SUPPORTED;
            }
            if (evpd && !InquiryData.supportsPage(page)) {
                return SenseCode.INVALID_FIELD_IN_CDB;
            }
            return null;
        }

        @Override
        void build(ByteBuf out, LogicalUnit lu, ScsiCommand c) {
            if ((c.cdbByte(1) & 0x01) != 0) {
                InquiryData.page(out, c.cdbByte(2), lu, c.itl.it());
            } else {
                InquiryData.standard(out, lu);
            }
        }
    }

    static final class ReportLuns extends DataIn {
        ReportLuns(int conflicts) {
            super(0xA0, "REPORT LUNS", false, conflicts,
                    usage(0xA0, 0, 0xFF, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0x04));
        }

        @Override
        int allocationLength(ScsiCommand c) {
            return (int) Math.min(c.cdbInt(6), LogicalUnit.MAX_TRANSFER_BYTES);
        }

        @Override
        SenseCode check(LogicalUnit lu, ScsiCommand c) {
            int select = c.cdbByte(2);
            if (c.cdbInt(6) < 16 || (select != 0x00 && select != 0x01 && select != 0x02)) {
                return SenseCode.INVALID_FIELD_IN_CDB;
            }
            return null;
        }

        @Override
        void build(ByteBuf out, LogicalUnit lu, ScsiCommand c) {
            // Select report 01h asks for well-known LUNs only, and this target has none.
            int[] luns = c.cdbByte(2) == 0x01 ? new int[0] : c.itl.it().reportedLuns();
            out.writeInt(luns.length * 8);
            out.writeInt(0);
            for (int lun : luns) {
                out.writeLong(LunAddress.encode(lun));
            }
        }
    }

    static final class RequestSense extends DataIn {
        RequestSense(int conflicts) {
            // DESC is ignored: the answer is always fixed format, which SPC-4 permits.
            super(0x03, "REQUEST SENSE", false, conflicts, usage(0x03, 0, 0, 0, 0xFF, 0x04));
        }

        @Override
        int allocationLength(ScsiCommand c) {
            return c.cdbByte(4);
        }

        @Override
        SenseCode check(LogicalUnit lu, ScsiCommand c) {
            return (c.cdbByte(1) & 0xFE) != 0 ? SenseCode.INVALID_FIELD_IN_CDB : null;
        }

        /** Reports (and clears) a pending unit attention, else "no sense"; fixed format always. */
        @Override
        void build(ByteBuf out, LogicalUnit lu, ScsiCommand c) {
            SenseCode code = lu == null ? SenseCode.LUN_NOT_SUPPORTED : c.itl.takeUnitAttention();
            out.writeBytes((code == null ? SenseCode.NONE : code).fixedSense());
        }
    }

    static final class ReadCapacity10 extends DataIn {
        ReadCapacity10(int conflicts) {
            super(0x25, "READ CAPACITY(10)", true, conflicts,
                    usage(0x25, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0x01, 0x04));
        }

        @Override
        int allocationLength(ScsiCommand c) {
            return 8;
        }

        @Override
        SenseCode check(LogicalUnit lu, ScsiCommand c) {
            boolean pmi = (c.cdbByte(8) & 0x01) != 0;
            return !pmi && c.cdbInt(2) != 0 ? SenseCode.INVALID_FIELD_IN_CDB : null;
        }

        @Override
        void build(ByteBuf out, LogicalUnit lu, ScsiCommand c) {
            long last = lu.capacityBlocks() - 1;
            out.writeInt((int) Math.min(last, 0xFFFFFFFFL));
            out.writeInt(lu.blockSize());
        }
    }

    /**
     * SERVICE ACTION IN(16): READ CAPACITY(16) and GET LBA STATUS are different commands behind one
     * opcode; this row only picks the one the CDB's service action names.
     */
    static final class ServiceActionIn16 extends ScsiOp {
        private static final int[] SERVICE_ACTIONS = {ReadCapacity16.SERVICE_ACTION, ProvisioningOps.GetLbaStatus.SERVICE_ACTION};
        private final ScsiOp readCapacity;
        private final ScsiOp getLbaStatus;

        ServiceActionIn16(ScsiOp readCapacity, ScsiOp getLbaStatus) {
            super(0x9E, "SERVICE ACTION IN(16)", false, true, Conflicts.NONE,
                    usage(0x9E, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0x07));
            this.readCapacity = readCapacity;
            this.getLbaStatus = getLbaStatus;
        }

        @Override
        int[] serviceActions() {
            return SERVICE_ACTIONS;
        }

        @Override
        ScsiOp resolve(ScsiCommand c) {
            return switch (c.cdbByte(1) & 0x1F) {
                case ReadCapacity16.SERVICE_ACTION -> readCapacity;
                case ProvisioningOps.GetLbaStatus.SERVICE_ACTION -> getLbaStatus;
                default -> null;
            };
        }

        @Override
        boolean setup(LogicalUnit lu, ScsiCommand c) {
            throw new IllegalStateException("resolved to a service action before setup");
        }

        @Override
        void execute(LogicalUnit lu, ScsiCommand c) {
            throw new IllegalStateException("resolved to a service action before execute");
        }
    }

    /** READ CAPACITY(16): capacity, block size, and whether the LUN is thin (LBPME, LBPRZ). */
    static final class ReadCapacity16 extends DataIn {
        static final int SERVICE_ACTION = 0x10;

        ReadCapacity16(int conflicts) {
            super(0x9E, "READ CAPACITY(16)", true, conflicts,
                    usage(0x9E, 0x1F, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0x07));
        }

        @Override
        int allocationLength(ScsiCommand c) {
            return (int) Math.min(c.cdbInt(10), 4096);
        }

        @Override
        SenseCode check(LogicalUnit lu, ScsiCommand c) {
            return null;
        }

        @Override
        void build(ByteBuf out, LogicalUnit lu, ScsiCommand c) {
            out.writeLong(lu.capacityBlocks() - 1);
            out.writeInt(lu.blockSize());
            out.writeByte(0);       // no protection information
            out.writeByte(0);       // one logical block per physical block
            // LBPME for a thin LUN, LBPRZ if its unmapped blocks read as zeros; lowest aligned LBA 0.
            out.writeShort((lu.thinProvisioned() ? 0x8000 : 0) | (lu.unmapReadsZeros() ? 0x4000 : 0));
            out.writeZero(16);
        }
    }

    /** MODE SENSE(6) and (10): header, optional block descriptor, pages. */
    static final class ModeSense extends DataIn {
        private final boolean ten;

        ModeSense(boolean ten, int conflicts) {
            super(ten ? 0x5A : 0x1A, ten ? "MODE SENSE(10)" : "MODE SENSE(6)", true, conflicts,
                    ten ? usage(0x5A, 0x18, 0xFF, 0xFF, 0, 0, 0, 0xFF, 0xFF, 0x04)
                        : usage(0x1A, 0x08, 0xFF, 0xFF, 0xFF, 0x04));
            this.ten = ten;
        }

        @Override
        int allocationLength(ScsiCommand c) {
            return ten ? c.cdbShort(7) : c.cdbByte(4);
        }

        @Override
        SenseCode check(LogicalUnit lu, ScsiCommand c) {
            int page = c.cdbByte(2) & 0x3F;
            int pc = c.cdbByte(2) >>> 6;
            int subpage = c.cdbByte(3);
            if (pc == ModePages.PC_SAVED) {
                return SenseCode.SAVING_PARAMETERS_NOT_SUPPORTED;
            }
            if (!ModePages.supports(page) || (subpage != 0 && !(page == ModePages.ALL && subpage == 0xFF))) {
                return SenseCode.INVALID_FIELD_IN_CDB;
            }
            return null;
        }

        @Override
        void build(ByteBuf out, LogicalUnit lu, ScsiCommand c) {
            boolean dbd = (c.cdbByte(1) & 0x08) != 0;
            boolean longLba = ten && (c.cdbByte(1) & 0x10) != 0;
            int deviceSpecific = (lu.readOnly() ? 0x80 : 0) | 0x10; // WP, DPOFUA
            int descriptorLength = dbd ? 0 : longLba ? 16 : 8;
            if (ten) {
                out.writeShort(0);                  // mode data length, patched below
                out.writeByte(0);                   // medium type
                out.writeByte(deviceSpecific);
                out.writeByte(longLba ? 1 : 0);
                out.writeByte(0);
                out.writeShort(descriptorLength);
            } else {
                out.writeByte(0);
                out.writeByte(0);
                out.writeByte(deviceSpecific);
                out.writeByte(descriptorLength);
            }
            long blocks = lu.capacityBlocks();
            if (descriptorLength == 8) {
                out.writeInt((int) Math.min(blocks, 0xFFFFFFL)); // density code 0, then 3 bytes of blocks
                out.writeInt(lu.blockSize());
            } else if (descriptorLength == 16) {
                out.writeLong(blocks);
                out.writeInt(0);
                out.writeInt(lu.blockSize());
            }
            ModePages.write(out, c.cdbByte(2) & 0x3F, c.cdbByte(2) >>> 6, lu);
            if (ten) {
                out.setShort(0, out.writerIndex() - 2);
            } else {
                out.setByte(0, out.writerIndex() - 1);
            }
        }
    }

    /** MODE SELECT(6) and (10): only the caching page's WCE bit may change. */
    static final class ModeSelect extends ScsiOp {
        private final boolean ten;

        ModeSelect(boolean ten, int conflicts) {
            super(ten ? 0x55 : 0x15, ten ? "MODE SELECT(10)" : "MODE SELECT(6)", false, true, conflicts,
                    ten ? usage(0x55, 0x01, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0x04)
                        : usage(0x15, 0x01, 0, 0, 0xFF, 0x04));
            this.ten = ten;
        }

        @Override
        boolean setup(LogicalUnit lu, ScsiCommand c) {
            if ((c.cdbByte(1) & 0x01) != 0) { // SP: we cannot save parameters
                c.checkCondition(SenseCode.INVALID_FIELD_IN_CDB);
                return false;
            }
            c.direction = ScsiCommand.Direction.OUT;
            c.transferLength = ten ? c.cdbShort(7) : c.cdbByte(4);
            return BlockOps.checkWriteLength(c);
        }

        @Override
        void execute(LogicalUnit lu, ScsiCommand c) {
            ByteBuf list = c.data == null ? io.netty.buffer.Unpooled.EMPTY_BUFFER
                    : c.data.slice(c.data.readerIndex(), c.transferLength);
            int headerLength = ten ? 8 : 4;
            if (list.readableBytes() == 0) {
                c.good();
            } else if (list.readableBytes() < headerLength) {
                c.checkCondition(SenseCode.PARAMETER_LIST_LENGTH_ERROR);
            } else {
                int descriptors = ten ? list.getUnsignedShort(6) : list.getUnsignedByte(3);
                if (list.readableBytes() < headerLength + descriptors) {
                    c.checkCondition(SenseCode.PARAMETER_LIST_LENGTH_ERROR);
                } else {
                    list.skipBytes(headerLength + descriptors);
                    ModePages.SelectResult result = ModePages.select(list, lu);
                    if (result.error() != null) {
                        c.checkCondition(result.error());
                    } else if (Boolean.FALSE.equals(result.newWce())) {
                        // Write cache off from now on means every acknowledged write is durable:
                        // what the cache holds is flushed first (Linux sends no flush after this).
                        ScsiCore.flush(lu, c);
                        return;
                    } else {
                        apply(lu, c, result.newWce());
                    }
                }
            }
            ScsiCore.finish(c);
        }

        @Override
        void ioCompleted(LogicalUnit lu, ScsiCommand c) {
            apply(lu, c, false); // the cache is flushed: the write cache goes off
            ScsiCore.finish(c);
        }

        private static void apply(LogicalUnit lu, ScsiCommand c, Boolean newWce) {
            if (newWce != null) {
                lu.setWriteCacheEnabled(newWce);
                lu.postUnitAttention(SenseCode.MODE_PARAMETERS_CHANGED, c.itl);
            }
            c.good();
        }
    }
}
