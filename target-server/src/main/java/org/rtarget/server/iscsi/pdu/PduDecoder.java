package org.rtarget.server.iscsi.pdu;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.util.List;

/**
 * Cuts the connection's byte stream into PDUs. Two states, as Netty's binary codecs do it: first
 * the header (BHS, AHS, header digest) is checked, then the data segment (data, padding, data
 * digest) is awaited. A header is validated before any of its data is waited for, so a PDU that
 * claims more data than was negotiated is refused without buffering it. Frames are retained slices
 * of the input: nothing is copied.
 *
 * <p>Any violation throws {@link PduException}; the connection handler logs it and closes that
 * connection only.
 */
public final class PduDecoder extends ByteToMessageDecoder {

    private enum State { READ_HEADER, READ_DATA, BAD }

    private final Digests digests;
    private int maxDataSegmentLength;
    private State state = State.READ_HEADER;
    private int frameLength;
    private int ahsLength;
    private int dataLength;
    private int headerLength;

    /**
     * @param digests the connection's digest settings (switched on after login)
     * @param maxDataSegmentLength the largest data segment accepted (our MaxRecvDataSegmentLength)
     */
    public PduDecoder(Digests digests, int maxDataSegmentLength) {
        this.digests = digests;
        this.maxDataSegmentLength = maxDataSegmentLength;
    }

    /** Changes the largest data segment accepted (after negotiation). */
    public void maxDataSegmentLength(int length) {
        this.maxDataSegmentLength = length;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        switch (state) {
            case READ_HEADER:
                if (!readHeader(in)) {
                    return;
                }
                state = State.READ_DATA;
                // fall through: the data may already be here
            case READ_DATA:
                if (in.readableBytes() < frameLength) {
                    return;
                }
                out.add(readFrame(in));
                state = State.READ_HEADER;
                return;
            case BAD:
                in.skipBytes(in.readableBytes());
                return;
            default:
                throw new IllegalStateException();
        }
    }

    /** Validates the header in place; returns false until all of it has arrived. */
    private boolean readHeader(ByteBuf in) {
        if (in.readableBytes() < Pdu.BHS_LENGTH) {
            return false;
        }
        int start = in.readerIndex();
        ahsLength = in.getUnsignedByte(start + 4) * 4;
        dataLength = in.getUnsignedMedium(start + 5);
        headerLength = Pdu.BHS_LENGTH + ahsLength + (digests.header() ? 4 : 0);
        if (in.readableBytes() < headerLength) {
            return false;
        }
        if (digests.header()) {
            int expected = digests.compute(in, start, Pdu.BHS_LENGTH + ahsLength);
            int actual = in.getInt(start + Pdu.BHS_LENGTH + ahsLength);
            if (expected != actual) {
                throw bad(String.format("header digest error (got 0x%08x, computed 0x%08x)", actual, expected));
            }
        }
        if (dataLength > maxDataSegmentLength) {
            throw bad(String.format("%s with a data segment of %d bytes, more than the %d negotiated",
                    Opcode.name(in.getByte(start) & 0x3F), dataLength, maxDataSegmentLength));
        }
        int padded = (dataLength + 3) & ~3;
        frameLength = headerLength + padded + (digests.data() && dataLength > 0 ? 4 : 0);
        return true;
    }

    private Pdu readFrame(ByteBuf in) {
        int start = in.readerIndex();
        if (digests.data() && dataLength > 0) {
            int dataStart = start + headerLength;
            // The digest covers the padding bytes as received: they SHOULD be zero, but need not be.
            int expected = digests.compute(in, dataStart, (dataLength + 3) & ~3);
            int actual = in.getInt(dataStart + ((dataLength + 3) & ~3));
            if (expected != actual) {
                throw bad(String.format("data digest error on %s (got 0x%08x, computed 0x%08x)",
                        Opcode.name(in.getByte(start) & 0x3F), actual, expected));
            }
        }
        ByteBuf frame = in.readRetainedSlice(frameLength);
        int dataOffset = Pdu.BHS_LENGTH + ahsLength + (digests.header() ? 4 : 0);
        return new Pdu(frame, ahsLength, dataOffset, dataLength);
    }

    private PduException bad(String reason) {
        state = State.BAD;
        return new PduException(reason);
    }
}
