package org.rtarget.backend.ublk;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;

/**
 * The wire format of docs/ublk-protocol.md: constants, and framing over a blocking socket channel
 * (u32 length, then u8 type and the message's fields, all little-endian).
 */
public final class UblkProtocol {
    // Target to driver.
    public static final int DEVICE_INFO = 0x01;
    public static final int CTRL_REPLY = 0x02;
    public static final int IO_CMD = 0x30;
    // Driver to target.
    public static final int START_DEV = 0x10;
    public static final int START_USER_RECOVERY = 0x11;
    public static final int END_USER_RECOVERY = 0x12;
    public static final int FETCH_REQ = 0x20;
    public static final int COMMIT_AND_FETCH_REQ = 0x21;

    // ublk's feature flags and device states.
    public static final int F_USER_RECOVERY = 1 << 3;
    public static final int F_USER_RECOVERY_REISSUE = 1 << 4;
    public static final int F_USER_RECOVERY_FAIL_IO = 1 << 9;
    public static final int S_DEAD = 0;
    public static final int S_LIVE = 1;
    public static final int S_QUIESCED = 2;
    public static final int S_FAIL_IO = 3;

    // ublk's I/O operations.
    public static final int OP_READ = 0;
    public static final int OP_WRITE = 1;
    public static final int OP_FLUSH = 2;
    public static final int OP_DISCARD = 3;
    public static final int OP_WRITE_ZEROES = 5;
    public static final int OP_FLAG_FUA = 1;
    /** On WRITE_ZEROES: the range must stay allocated (no deallocation), as ublk's UBLK_IO_F_NOUNMAP. */
    public static final int OP_FLAG_NOUNMAP = 1 << 1;

    // What a driver declares it can do, in the optional second field of START_DEV and START_USER_RECOVERY.
    /** DISCARD really releases space and the range reads back as zeros afterwards (LBPRZ). */
    public static final int FEATURE_DISCARD_ZEROES = 1;
    /** WRITE_ZEROES is done without a data transfer (a WRITE SAME of zeros goes to it). */
    public static final int FEATURE_WRITE_ZEROES = 1 << 1;

    /** No message is longer than this: a bigger length is garbage. */
    public static final int MAX_MESSAGE = 64 * 1024;

    private UblkProtocol() {
    }

    /** A message being built: {@link #send} frames it. */
    public static ByteBuffer message(int type, int bodyLength) {
        ByteBuffer b = ByteBuffer.allocate(4 + 1 + bodyLength).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(1 + bodyLength);
        b.put((byte) type);
        return b;
    }

    /** Writes a whole message; callers serialize writes on one channel. */
    public static void send(SocketChannel channel, ByteBuffer message) throws IOException {
        message.flip();
        while (message.hasRemaining()) {
            channel.write(message);
        }
    }

    /**
     * Writes {@code count} messages with gathering writes (one system call for all of them when the
     * socket takes them); callers serialize writes on one channel.
     */
    public static void sendAll(SocketChannel channel, ByteBuffer[] messages, int count) throws IOException {
        long left = 0;
        for (int i = 0; i < count; i++) {
            left += messages[i].flip().remaining();
        }
        int first = 0;
        while (left > 0) {
            left -= channel.write(messages, first, count - first);
            while (first < count && !messages[first].hasRemaining()) {
                first++;
            }
        }
    }

    /**
     * Reads messages through one buffer: a single read brings in every message that has arrived,
     * instead of two reads (length, then body) per message.
     */
    public static final class Receiver {
        private final SocketChannel channel;
        private final ByteBuffer buffer = ByteBuffer.allocateDirect(4 + MAX_MESSAGE).order(ByteOrder.LITTLE_ENDIAN);

        public Receiver(SocketChannel channel) {
            this.channel = channel;
            buffer.flip(); // empty, ready for reading
        }

        /**
         * The next message, positioned after its type byte (read the type with {@code get(0)}); it
         * is a view of the receiver's buffer, valid until the next call. Null at a clean end of stream.
         *
         * @throws ProtocolException for a frame that cannot be a message
         */
        public ByteBuffer next() throws IOException {
            if (!fill(4, true)) {
                return null;
            }
            int length = buffer.getInt(buffer.position());
            if (length < 1 || length > MAX_MESSAGE) {
                throw new ProtocolException("message length " + Integer.toUnsignedString(length));
            }
            fill(4 + length, false);
            int start = buffer.position() + 4;
            ByteBuffer message = buffer.slice(start, length).order(ByteOrder.LITTLE_ENDIAN);
            message.position(1);
            buffer.position(start + length);
            return message;
        }

        private boolean fill(int bytes, boolean eofAllowed) throws IOException {
            while (buffer.remaining() < bytes) {
                buffer.compact();
                int n = channel.read(buffer);
                buffer.flip();
                if (n < 0) {
                    if (eofAllowed && !buffer.hasRemaining()) {
                        return false;
                    }
                    throw new EOFException("connection closed inside a message");
                }
            }
            return true;
        }
    }

    /**
     * Reads one message: the returned buffer is positioned after the type byte (read with
     * {@code get(0)}); null at a clean end of stream.
     *
     * @throws ProtocolException for a frame that cannot be a message
     */
    public static ByteBuffer receive(SocketChannel channel, ByteBuffer lengthBuffer) throws IOException {
        lengthBuffer.clear();
        if (!readFully(channel, lengthBuffer, true)) {
            return null;
        }
        int length = lengthBuffer.flip().order(ByteOrder.LITTLE_ENDIAN).getInt();
        if (length < 1 || length > MAX_MESSAGE) {
            throw new ProtocolException("message length " + Integer.toUnsignedString(length));
        }
        ByteBuffer body = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
        if (!readFully(channel, body, false)) {
            throw new EOFException("connection closed inside a message");
        }
        body.flip();
        body.position(1);
        return body;
    }

    private static boolean readFully(SocketChannel channel, ByteBuffer b, boolean eofAllowed) throws IOException {
        while (b.hasRemaining()) {
            if (channel.read(b) < 0) {
                if (eofAllowed && b.position() == 0) {
                    return false;
                }
                throw new EOFException("connection closed inside a message");
            }
        }
        return true;
    }

    /** Something the other side sent that breaks the protocol. */
    public static final class ProtocolException extends IOException {
        public ProtocolException(String message) {
            super(message);
        }
    }

    public static String stateName(int state) {
        return switch (state) {
            case S_DEAD -> "DEAD";
            case S_LIVE -> "LIVE";
            case S_QUIESCED -> "QUIESCED";
            case S_FAIL_IO -> "FAIL_IO";
            default -> "state " + state;
        };
    }
}
