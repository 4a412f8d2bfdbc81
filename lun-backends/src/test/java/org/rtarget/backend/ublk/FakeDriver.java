package org.rtarget.backend.ublk;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.rtarget.backend.BlockDevice;
import org.rtarget.backend.Errno;
import org.rtarget.backend.IoCallback;
import org.rtarget.backend.IoFailure;

/**
 * A driver written against docs/ublk-protocol.md with {@link UblkProtocol} only, which a test
 * steers message by message: it can hold requests without committing them, serve them (slowly),
 * die at any point ({@link #kill()}: the socket closes, as when a process dies) or misbehave.
 *
 * <p>Until {@link #startReader} is called, the test reads synchronously ({@link #control} waits
 * for its reply on the calling thread), so a driver that never reads its socket is just one that
 * never starts its reader.
 */
final class FakeDriver implements AutoCloseable {

    /** One IO_CMD as the driver received it. */
    record IoCmd(int qid, int tag, int op, int opFlags, long startSector, int nrSectors, long bufOffset) {
        long offset() {
            return startSector << 9;
        }

        int length() {
            return nrSectors << 9;
        }
    }

    private final SocketChannel channel;
    private final ByteBuffer lengthBuffer = ByteBuffer.allocate(4);
    final long size;
    final int blockSize;
    final int queues;
    final int queueDepth;
    final int maxIo;
    final int flags;
    /** The state DEVICE_INFO reported. */
    final int state;
    final long shmSize;
    final Path shmPath;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment shm;

    private final BlockingQueue<int[]> replies = new LinkedBlockingQueue<>();
    private final BlockingQueue<IoCmd> ios = new LinkedBlockingQueue<>();
    private final CountDownLatch ended = new CountDownLatch(1);
    private final AtomicInteger received = new AtomicInteger();
    private volatile boolean killed;
    private volatile boolean ioBeforeReply;
    private boolean closed;
    private volatile boolean endedByTarget;
    private volatile Thread reader;
    private volatile BlockDevice backing;
    private volatile long delayMillis;
    /** The pid this driver names in its control commands (its own JVM's unless a test says otherwise). */
    volatile long pid = ProcessHandle.current().pid();
    /** The features it declares when it starts (UblkProtocol.FEATURE_*); -1: the old form, none declared. */
    volatile int features = -1;

    private FakeDriver(SocketChannel channel) throws IOException {
        this.channel = channel;
        ByteBuffer info = UblkProtocol.receive(channel, lengthBuffer);
        assertThat(info).as("DEVICE_INFO").isNotNull();
        assertThat(info.get(0) & 0xFF).as("first message type").isEqualTo(UblkProtocol.DEVICE_INFO);
        size = info.getLong();
        blockSize = info.getInt();
        queues = info.getShort() & 0xFFFF;
        queueDepth = info.getShort() & 0xFFFF;
        maxIo = info.getInt();
        flags = info.getInt();
        state = info.get() & 0xFF;
        shmSize = info.getLong();
        byte[] path = new byte[info.getShort() & 0xFFFF];
        info.get(path);
        assertThat(info.hasRemaining()).as("DEVICE_INFO has no trailing bytes").isFalse();
        shmPath = Path.of(new String(path, StandardCharsets.UTF_8));
        try (FileChannel ch = FileChannel.open(shmPath, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            shm = ch.map(FileChannel.MapMode.READ_WRITE, 0, shmSize, arena);
        }
    }

    /** Connects and reads DEVICE_INFO. */
    static FakeDriver connect(Path socket) throws IOException {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        ch.connect(UnixDomainSocketAddress.of(socket));
        return new FakeDriver(ch);
    }

    int tags() {
        return queues * queueDepth;
    }

    // ----- sending -----

    void send(ByteBuffer m) throws IOException {
        synchronized (channel) {
            UblkProtocol.send(channel, m);
        }
    }

    /** Raw bytes, framing or not; false if the target had already closed the connection. */
    boolean sendRaw(byte[] bytes) {
        try {
            synchronized (channel) {
                ByteBuffer b = ByteBuffer.wrap(bytes);
                while (b.hasRemaining()) {
                    channel.write(b);
                }
            }
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    void fetch(int qid, int tag) throws IOException {
        ByteBuffer m = UblkProtocol.message(UblkProtocol.FETCH_REQ, 4);
        m.putShort((short) qid);
        m.putShort((short) tag);
        send(m);
    }

    void fetchAll() throws IOException {
        fetchAllBut(-1);
    }

    /** Fetches every tag but the one numbered {@code skip} (qid * depth + tag); -1 for none. */
    void fetchAllBut(int skip) throws IOException {
        for (int q = 0; q < queues; q++) {
            for (int t = 0; t < queueDepth; t++) {
                if (q * queueDepth + t != skip) {
                    fetch(q, t);
                }
            }
        }
    }

    void commit(int qid, int tag, int result) throws IOException {
        ByteBuffer m = UblkProtocol.message(UblkProtocol.COMMIT_AND_FETCH_REQ, 8);
        m.putShort((short) qid);
        m.putShort((short) tag);
        m.putInt(result);
        send(m);
    }

    void commit(IoCmd io, int result) throws IOException {
        commit(io.qid(), io.tag(), result);
    }

    /** Sends a control command and returns its result (0 or -errno). */
    int control(int command) throws IOException {
        boolean declares = features >= 0 && command != UblkProtocol.END_USER_RECOVERY;
        ByteBuffer m = UblkProtocol.message(command, declares ? 8 : 4);
        m.putInt((int) pid);
        if (declares) {
            m.putInt(features);
        }
        send(m);
        int[] reply;
        if (reader == null) {
            reply = null;
            while (reply == null) {
                ByteBuffer r = UblkProtocol.receive(channel, lengthBuffer);
                if (r == null) {
                    throw new IOException("the target closed the connection");
                }
                reply = dispatch(r);
                if (reply == null) {
                    ioBeforeReply = true;
                }
            }
        } else {
            try {
                reply = replies.poll(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                throw new IOException(e);
            }
            if (reply == null) {
                throw new IOException("no reply to 0x" + Integer.toHexString(command));
            }
        }
        assertThat(reply[0]).as("CTRL_REPLY answers the command sent").isEqualTo(command);
        return reply[1];
    }

    /** Whether an IO_CMD arrived while a control command (read on the caller's thread) awaited its reply. */
    boolean ioBeforeReply() {
        return ioBeforeReply;
    }

    /** Fetches every tag and starts the device: it is LIVE when this returns. */
    FakeDriver startDev() throws IOException {
        fetchAll();
        assertThat(control(UblkProtocol.START_DEV)).as("START_DEV").isZero();
        return this;
    }

    /** The whole recovery: START_USER_RECOVERY, a fetch of every tag, END_USER_RECOVERY. */
    FakeDriver recover() throws IOException {
        assertThat(control(UblkProtocol.START_USER_RECOVERY)).as("START_USER_RECOVERY").isZero();
        fetchAll();
        assertThat(control(UblkProtocol.END_USER_RECOVERY)).as("END_USER_RECOVERY").isZero();
        return this;
    }

    // ----- receiving -----

    /** Starts reading on a thread of its own: IO_CMDs are held for the test ({@link #nextIo}). */
    FakeDriver startReader() {
        Thread t = new Thread(this::readLoop, "fake-ublk-driver");
        t.setDaemon(true);
        reader = t;
        t.start();
        return this;
    }

    /** Starts reading and serves every IO_CMD from {@code store}, after {@code delayMillis} each. */
    FakeDriver serve(BlockDevice store, long delayMillis) {
        this.backing = store;
        this.delayMillis = delayMillis;
        // Requests already held go to the store too.
        for (IoCmd io; (io = ios.poll()) != null; ) {
            execute(io);
        }
        return reader == null ? startReader() : this;
    }

    FakeDriver serve(BlockDevice store) {
        return serve(store, 0);
    }

    private void readLoop() {
        try {
            while (true) {
                ByteBuffer m = UblkProtocol.receive(channel, lengthBuffer);
                if (m == null) {
                    break;
                }
                int[] reply = dispatch(m);
                if (reply != null) {
                    replies.add(reply);
                }
            }
            endedByTarget = !killed;
        } catch (IOException e) {
            endedByTarget = !killed;
        } finally {
            ended.countDown();
        }
    }

    /** Handles one message: a CTRL_REPLY is returned, an IO_CMD is held or served. */
    private int[] dispatch(ByteBuffer m) {
        int type = m.get(0) & 0xFF;
        if (type == UblkProtocol.CTRL_REPLY) {
            int command = m.get() & 0xFF;
            return new int[] {command, m.getInt()};
        }
        assertThat(type).as("message type from the target").isEqualTo(UblkProtocol.IO_CMD);
        IoCmd io = new IoCmd(m.getShort() & 0xFFFF, m.getShort() & 0xFFFF, m.get() & 0xFF, m.get() & 0xFF,
                m.getLong(), m.getInt(), m.getLong());
        received.incrementAndGet();
        if (backing != null && reader != null) {
            execute(io);
        } else {
            ios.add(io);
        }
        return null;
    }

    /** Does the I/O on the store and commits it. */
    void execute(IoCmd io) {
        if (delayMillis > 0) {
            try {
                Thread.sleep(delayMillis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        BlockDevice store = backing;
        int[] result = new int[1];
        IoCallback done = new IoCallback() {
            @Override
            public void completed() {
                result[0] = io.length();
            }

            @Override
            public void failed(IoFailure failure) {
                result[0] = -(failure.errno() != 0 ? failure.errno() : Errno.EIO);
            }
        };
        switch (io.op()) {
            case UblkProtocol.OP_READ -> store.read(io.offset(), slot(io), done);
            case UblkProtocol.OP_WRITE -> store.write(io.offset(), slot(io), done);
            case UblkProtocol.OP_FLUSH -> store.flush(done);
            case UblkProtocol.OP_DISCARD -> store.unmap(io.offset(), io.length(), done);
            default -> result[0] = -Errno.EOPNOTSUPP;
        }
        try {
            commit(io, result[0]);
        } catch (IOException e) {
            // the target is gone
        }
    }

    /** The request's slot in shared memory, as a buffer. */
    ByteBuffer slot(IoCmd io) {
        assertThat(io.bufOffset()).as("buf_offset of queue %d tag %d", io.qid(), io.tag())
                .isEqualTo((long) (io.qid() * queueDepth + io.tag()) * maxIo);
        return shm.asSlice(io.bufOffset(), io.length()).asByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** The next IO_CMD held for the test. */
    IoCmd nextIo() {
        try {
            IoCmd io = ios.poll(5, TimeUnit.SECONDS);
            assertThat(io).as("an IO_CMD within 5 s").isNotNull();
            return io;
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    List<IoCmd> nextIos(int n) {
        List<IoCmd> list = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            list.add(nextIo());
        }
        return list;
    }

    /** IO_CMDs held and not yet taken. */
    int heldCount() {
        return ios.size();
    }

    /** IO_CMDs received in all. */
    int receivedCount() {
        return received.get();
    }

    /** Waits for the target to close the connection (the reader must run). */
    boolean awaitClosedByTarget(Duration timeout) throws InterruptedException {
        return ended.await(timeout.toMillis(), TimeUnit.MILLISECONDS) && endedByTarget;
    }

    boolean connectionOpen() {
        return ended.getCount() > 0;
    }

    /** Dies: the socket closes as when the process is killed, nothing else is sent. */
    void kill() {
        killed = true;
        try {
            channel.close();
        } catch (IOException e) {
            // closed anyway
        }
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        kill();
        Thread t = reader;
        if (t != null) {
            try {
                t.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (t == null || !t.isAlive()) {
            arena.close();
        }
    }
}
