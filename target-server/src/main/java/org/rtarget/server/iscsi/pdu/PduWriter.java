package org.rtarget.server.iscsi.pdu;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;

/**
 * Builds and writes outbound PDUs on one connection: a 48-byte header the caller fills in, the data
 * segment as given (a slice of a read buffer goes to the socket as is), then padding and digests.
 * Used only on the connection's event loop; writes use the void promise, flushing is the caller's.
 */
public final class PduWriter {
    private static final ByteBuf PADDING = Unpooled.unreleasableBuffer(
            Unpooled.directBuffer(4).writeZero(4).asReadOnly());

    private final Channel channel;
    private final Digests digests;
    private final ByteBufAllocator alloc;

    public PduWriter(Channel channel, Digests digests) {
        this.channel = channel;
        this.digests = digests;
        this.alloc = channel.alloc();
    }

    /** A new zeroed header with opcode and byte 1 set; room for its digest is reserved. */
    public ByteBuf header(int opcode, int flags) {
        ByteBuf h = alloc.directBuffer(Pdu.BHS_LENGTH + 4);
        h.writeByte(opcode);
        h.writeByte(flags);
        h.writeZero(Pdu.BHS_LENGTH - 2);
        return h;
    }

    /** Writes a PDU; takes ownership of both buffers. {@code data} may be null. */
    public void send(ByteBuf header, ByteBuf data) {
        int dataLength = data == null ? 0 : data.readableBytes();
        header.setMedium(5, dataLength);
        if (digests.header()) {
            header.writeInt(digests.compute(header, 0, Pdu.BHS_LENGTH));
        }
        channel.write(header, channel.voidPromise());
        if (dataLength == 0) {
            if (data != null) {
                data.release();
            }
            return;
        }
        int pad = (-dataLength) & 3;
        int digest = digests.data() ? digests.computePadded(data, data.readerIndex(), dataLength) : 0;
        channel.write(data, channel.voidPromise());
        if (digests.data()) {
            ByteBuf trailer = alloc.buffer(pad + 4);
            trailer.writeZero(pad);
            trailer.writeInt(digest);
            channel.write(trailer, channel.voidPromise());
        } else if (pad != 0) {
            channel.write(PADDING.duplicate().writerIndex(pad), channel.voidPromise());
        }
    }

    public void flush() {
        channel.flush();
    }

    public ByteBufAllocator alloc() {
        return alloc;
    }
}
