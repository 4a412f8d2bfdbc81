package org.rtarget.server.iscsi.pdu;

import io.netty.buffer.ByteBuf;
import io.netty.util.AbstractReferenceCounted;

/**
 * An inbound PDU: a read-only view over one frame of the connection's input (basic header segment,
 * additional header segments, data segment), without copying. The accessors read BHS fields in
 * place (RFC 7143 section 11). The owner must {@link #release()} it.
 */
public final class Pdu extends AbstractReferenceCounted {
    public static final int BHS_LENGTH = 48;
    public static final int RESERVED_TAG = 0xFFFFFFFF;

    private final ByteBuf frame;
    private final int ahsLength;
    private final int dataOffset;
    private final int dataLength;

    Pdu(ByteBuf frame, int ahsLength, int dataOffset, int dataLength) {
        this.frame = frame;
        this.ahsLength = ahsLength;
        this.dataOffset = dataOffset;
        this.dataLength = dataLength;
    }

    /** Wraps a header and data already separated (tests, captured vectors). */
    public static Pdu of(ByteBuf frame) {
        int ahs = frame.getUnsignedByte(4) * 4;
        int dsl = frame.getUnsignedMedium(5);
        return new Pdu(frame, ahs, BHS_LENGTH + ahs, dsl);
    }

    public int opcode() {
        return frame.getByte(0) & 0x3F;
    }

    /** The I bit: an immediate command, delivered without regard to CmdSN order. */
    public boolean immediate() {
        return (frame.getByte(0) & 0x40) != 0;
    }

    /** Byte 1: the F bit and opcode-specific flags. */
    public int flags() {
        return frame.getUnsignedByte(1);
    }

    public boolean finalBit() {
        return (frame.getByte(1) & 0x80) != 0;
    }

    public int byte2() {
        return frame.getUnsignedByte(2);
    }

    public int byte3() {
        return frame.getUnsignedByte(3);
    }

    public int dataSegmentLength() {
        return dataLength;
    }

    public int ahsLength() {
        return ahsLength;
    }

    /** Bytes 8-15: the LUN field for most PDUs. */
    public long lunField() {
        return frame.getLong(8);
    }

    /** Bytes 8-13 of a login request: the ISID. */
    public long isid() {
        return frame.getUnsignedInt(8) << 16 | frame.getUnsignedShort(12);
    }

    /** Bytes 14-15 of a login request: the TSIH. */
    public int tsih() {
        return frame.getUnsignedShort(14);
    }

    public int initiatorTaskTag() {
        return frame.getInt(16);
    }

    /** Bytes 20-23: TTT, EDTL, referenced task tag or CID, depending on the opcode. */
    public int word20() {
        return frame.getInt(20);
    }

    public int cmdSn() {
        return frame.getInt(24);
    }

    public int expStatSn() {
        return frame.getInt(28);
    }

    /** Bytes 32-35: RefCmdSN of a task management request. */
    public int word32() {
        return frame.getInt(32);
    }

    /** Bytes 36-39: DataSN of a Data-Out. */
    public int word36() {
        return frame.getInt(36);
    }

    /** Bytes 40-43: buffer offset of a Data-Out. */
    public int word40() {
        return frame.getInt(40);
    }

    /** The CDB of a SCSI command: 16 bytes in the BHS, more in an extended-CDB AHS (not supported). */
    public ByteBuf cdb() {
        return frame.slice(32, 16);
    }

    /** The basic header segment (48 bytes), e.g. to quote in a Reject. */
    public ByteBuf bhs() {
        return frame.slice(0, BHS_LENGTH);
    }

    /** The data segment without padding or digest. */
    public ByteBuf data() {
        return frame.slice(dataOffset, dataLength);
    }

    @Override
    protected void deallocate() {
        frame.release();
    }

    @Override
    public Pdu touch(Object hint) {
        frame.touch(hint);
        return this;
    }

    @Override
    public String toString() {
        return String.format("%s itt=0x%08x dlen=%d", Opcode.name(opcode()), initiatorTaskTag(), dataLength);
    }
}
