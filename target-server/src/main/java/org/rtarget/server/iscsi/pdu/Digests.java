package org.rtarget.server.iscsi.pdu;

import io.netty.buffer.ByteBuf;
import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * The digests negotiated for one connection (HeaderDigest, DataDigest) and the CRC32C that computes
 * them. One instance per connection, used only on its event loop. Digests go on the wire
 * little-endian (RFC 7143 13.1: the CRC's bytes in the order they are computed).
 */
public final class Digests {
    private final CRC32C crc = new CRC32C();
    private boolean header;
    private boolean data;

    public boolean header() {
        return header;
    }

    public boolean data() {
        return data;
    }

    /** Takes effect from the next PDU in each direction (after the final login response). */
    public void enable(boolean headerDigest, boolean dataDigest) {
        this.header = headerDigest;
        this.data = dataDigest;
    }

    /** The CRC32C of {@code length} bytes of {@code buf} at {@code index}, as the wire carries it. */
    public int compute(ByteBuf buf, int index, int length) {
        crc.reset();
        update(buf, index, length);
        return Integer.reverseBytes((int) crc.getValue());
    }

    /** The CRC32C of a data segment plus its zero padding. */
    public int computePadded(ByteBuf buf, int index, int length) {
        crc.reset();
        update(buf, index, length);
        int pad = (-length) & 3;
        for (int i = 0; i < pad; i++) {
            crc.update(0);
        }
        return Integer.reverseBytes((int) crc.getValue());
    }

    private void update(ByteBuf buf, int index, int length) {
        if (length == 0) {
            return;
        }
        if (buf.nioBufferCount() == 1) {
            crc.update(buf.internalNioBuffer(index, length));
        } else {
            for (ByteBuffer b : buf.nioBuffers(index, length)) {
                crc.update(b);
            }
        }
    }
}
