package org.rtarget.backend.ublk;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.rtarget.backend.BlockDevice;
import org.rtarget.backend.Errno;
import org.rtarget.backend.IoCallback;
import org.rtarget.backend.IoFailure;

/**
 * The reference user-space driver (docs/ublk-protocol.md): it connects to a target's socket,
 * starts the device or recovers it, and serves every request from a {@link BlockDevice} of its
 * own (an image file, or a ploop chain). Its crash switches make it die like a crashing driver
 * (no cleanup at all) for tests.
 */
public final class UblkDriver {

    /** When to crash on purpose: after N requests, with a probability per request, or when a file appears. */
    public record CrashSwitch(long afterRequests, double probability, Path whenExists) {
        public static final CrashSwitch NEVER = new CrashSwitch(0, 0, null);

        boolean fires(long requestNumber) {
            return afterRequests > 0 && requestNumber >= afterRequests
                    || probability > 0 && ThreadLocalRandom.current().nextDouble() < probability
                    || whenExists != null && Files.exists(whenExists);
        }
    }

    /** Opens the driver's backing store once the device's size and block size are known. */
    @FunctionalInterface
    public interface BackingOpener {
        BlockDevice open(long size, int blockSize) throws IOException;
    }

    private final SocketChannel channel;
    private final BackingOpener opener;
    private BlockDevice backing;
    /** What the driver declares it can do (UblkProtocol.FEATURE_*). */
    private int features;
    /** max-io bytes of zeros, read-only shared by every WRITE_ZEROES that must stay allocated. */
    private ByteBuffer zeros;
    private final CrashSwitch crash;
    private final PrintStream out;
    private final AtomicLong requests = new AtomicLong();
    /** Set by the SIGTERM hook: the end of the connection is ours, not the target's. */
    private volatile boolean stopping;
    private final UblkProtocol.Receiver receiver;
    private MemorySegment data;
    private int queueDepth;
    private int queues;

    private UblkDriver(SocketChannel channel, BackingOpener opener, CrashSwitch crash, PrintStream out) {
        this.channel = channel;
        this.receiver = new UblkProtocol.Receiver(channel);
        this.opener = opener;
        this.crash = crash;
        this.out = out;
    }

    /**
     * Serves the device behind {@code socket} from {@code backing} until the target closes the
     * connection. Returns the process exit status.
     */
    public static int run(Path socket, BackingOpener opener, CrashSwitch crash, PrintStream out) throws IOException {
        SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX);
        channel.connect(UnixDomainSocketAddress.of(socket));
        UblkDriver driver = new UblkDriver(channel, opener, crash, out);
        // SIGTERM (the supervisor stopping the LUN, systemctl stop): stop reading, so the loop below
        // ends, and let the code below close the backing store properly (requests in progress finish
        // and are committed, a ploop top delta's in-use mark is cleared). The supervisor waits
        // 5 s before SIGKILL; the hook waits as long, no longer.
        CountDownLatch closed = new CountDownLatch(1);
        Thread stop = new Thread(() -> {
            driver.stopping = true;
            try {
                channel.shutdownInput();
                closed.await(5, TimeUnit.SECONDS);
            } catch (IOException | InterruptedException e) {
                // exiting anyway
            }
        }, "ublk-driver-stop");
        Runtime.getRuntime().addShutdownHook(stop);
        Arena arena = Arena.ofShared();
        try {
            return driver.serve(arena);
        } catch (IOException e) {
            if (driver.stopping) {
                out.println("ublk-driver: stopped");
                return 0;
            }
            throw e;
        } finally {
            // The backing store first: what it still has in progress completes into the shared
            // memory and is committed over the socket, so both stay open until it is closed.
            if (driver.backing != null) {
                driver.backing.close();
            }
            channel.close();
            arena.close();
            closed.countDown();
            try {
                Runtime.getRuntime().removeShutdownHook(stop);
            } catch (IllegalStateException e) {
                // the JVM is already shutting down: the hook is what got us here
            }
        }
    }

    private int serve(Arena arena) throws IOException {
        ByteBuffer info = receiver.next();
        if (info == null || (info.get(0) & 0xFF) != UblkProtocol.DEVICE_INFO) {
            out.println("ublk-driver: the target did not send DEVICE_INFO");
            return 1;
        }
        long size = info.getLong();
        int blockSize = info.getInt();
        queues = info.getShort() & 0xFFFF;
        queueDepth = info.getShort() & 0xFFFF;
        int maxIo = info.getInt();
        int flags = info.getInt();
        int state = info.get() & 0xFF;
        long dataSize = info.getLong();
        byte[] path = new byte[info.getShort() & 0xFFFF];
        info.get(path);
        Path dataPath = Path.of(new String(path, StandardCharsets.UTF_8));
        backing = opener.open(size, blockSize);
        if (backing.size() < size) {
            out.printf("ublk-driver: the backing store has %d bytes, the device needs %d%n", backing.size(), size);
            return 1;
        }
        zeros = ByteBuffer.allocateDirect(maxIo); // a request never exceeds max-io: one buffer serves all
        // What this driver can promise: holes punched in its backing read as zeros (file, ploop).
        features = backing.thinProvisioned() && backing.unmapReadsZeros()
                ? UblkProtocol.FEATURE_DISCARD_ZEROES | UblkProtocol.FEATURE_WRITE_ZEROES : 0;
        try (FileChannel ch = FileChannel.open(dataPath, StandardOpenOption.READ, StandardOpenOption.WRITE,
                java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            data = ch.map(FileChannel.MapMode.READ_WRITE, 0, dataSize, arena);
        }
        long pid = ProcessHandle.current().pid();
        out.printf("ublk-driver: pid %d, device %d bytes, %d-byte blocks, %d x %d tags of %d bytes, flags 0x%x, state %s%n",
                pid, size, blockSize, queues, queueDepth, maxIo, flags, UblkProtocol.stateName(state));
        boolean serving = false;
        switch (state) {
            case UblkProtocol.S_DEAD -> {
                fetchAll();
                serving = control(UblkProtocol.START_DEV, pid) == 0;
            }
            case UblkProtocol.S_QUIESCED, UblkProtocol.S_FAIL_IO -> serving = recover(pid);
            // LIVE with USER_RECOVERY: the old driver may have died a moment ago with its connection
            // not closed yet; the target answers EBUSY until it is, and QUIESCED or FAIL_IO after.
            case UblkProtocol.S_LIVE -> {
                if ((flags & UblkProtocol.F_USER_RECOVERY) == 0) {
                    out.println("ublk-driver: the device is LIVE with another driver");
                    return 1;
                }
                out.println("ublk-driver: the device is LIVE with another driver; waiting for it to go away");
                serving = recover(pid);
            }
            default -> {
                out.println("ublk-driver: the device is " + UblkProtocol.stateName(state) + " with another driver");
                return 1;
            }
        }
        if (!serving) {
            return 1;
        }
        out.println("ublk-driver: serving");
        while (true) {
            ByteBuffer m = receiver.next();
            if (m == null) {
                out.println(stopping ? "ublk-driver: stopped" : "ublk-driver: the target closed the connection");
                return 0;
            }
            if ((m.get(0) & 0xFF) != UblkProtocol.IO_CMD) {
                out.println("ublk-driver: unexpected message 0x" + Integer.toHexString(m.get(0) & 0xFF));
                return 1;
            }
            request(m);
        }
    }

    /**
     * START_USER_RECOVERY, retried as ublksrv does every 100 ms for 30 s while the old driver is not
     * gone (EBUSY), then a fetch of every tag and END_USER_RECOVERY. True if the device is LIVE.
     */
    private boolean recover(long pid) throws IOException {
        int result = -Errno.EBUSY;
        for (int i = 0; i < 300 && result == -Errno.EBUSY; i++) {
            result = control(UblkProtocol.START_USER_RECOVERY, pid);
            if (result == -Errno.EBUSY) {
                sleep(100);
            }
        }
        if (result != 0) {
            return false;
        }
        fetchAll();
        return control(UblkProtocol.END_USER_RECOVERY, pid) == 0;
    }

    private void fetchAll() throws IOException {
        for (int q = 0; q < queues; q++) {
            for (int t = 0; t < queueDepth; t++) {
                ByteBuffer m = UblkProtocol.message(UblkProtocol.FETCH_REQ, 4);
                m.putShort((short) q);
                m.putShort((short) t);
                send(m);
            }
        }
    }

    /** Sends a control command (the starts with this driver's features) and waits for its reply. */
    private int control(int command, long pid) throws IOException {
        boolean start = command != UblkProtocol.END_USER_RECOVERY;
        ByteBuffer m = UblkProtocol.message(command, start ? 8 : 4);
        m.putInt((int) pid);
        if (start) {
            m.putInt(features);
        }
        send(m);
        ByteBuffer reply = receiver.next();
        if (reply == null || (reply.get(0) & 0xFF) != UblkProtocol.CTRL_REPLY) {
            throw new IOException("no reply to control command 0x" + Integer.toHexString(command));
        }
        reply.get();
        int result = reply.getInt();
        if (result != 0 && result != -Errno.EBUSY) {
            out.printf("ublk-driver: control command 0x%x failed: %s%n", command, Errno.name(-result));
        }
        return result;
    }

    private void request(ByteBuffer m) {
        int qid = m.getShort() & 0xFFFF;
        int tag = m.getShort() & 0xFFFF;
        int op = m.get() & 0xFF;
        int opFlags = m.get() & 0xFF;
        long offset = m.getLong() << 9;
        int length = m.getInt() << 9;
        long bufferOffset = m.getLong();
        if (crash.fires(requests.incrementAndGet())) {
            out.println("ublk-driver: crashing on purpose (crash switch)");
            out.flush();
            Runtime.getRuntime().halt(137);
        }
        Completion done = new Completion(qid, tag, length, op == UblkProtocol.OP_WRITE
                && (opFlags & UblkProtocol.OP_FLAG_FUA) != 0);
        switch (op) {
            case UblkProtocol.OP_READ -> backing.read(offset, slot(bufferOffset, length), done);
            case UblkProtocol.OP_WRITE -> backing.write(offset, slot(bufferOffset, length), done);
            case UblkProtocol.OP_FLUSH -> backing.flush(done);
            case UblkProtocol.OP_DISCARD -> backing.unmap(offset, length, done);
            // declared only where unmapped ranges read as zeros: released, unless it must stay allocated
            case UblkProtocol.OP_WRITE_ZEROES -> {
                if ((opFlags & UblkProtocol.OP_FLAG_NOUNMAP) != 0) {
                    backing.write(offset, zeros.slice(0, length), done);
                } else {
                    backing.unmap(offset, length, done);
                }
            }
            default -> done.failed(IoFailure.ofErrno(Errno.EOPNOTSUPP, "op " + op));
        }
    }

    /** A request's slot in the shared data area, as a buffer the backing device reads or fills. */
    private ByteBuffer slot(long bufferOffset, int length) {
        return data.asSlice(bufferOffset, length).asByteBuffer();
    }

    /** Commits one request: its result goes back to the target with the tag fetched again. */
    private final class Completion implements IoCallback {
        private final int qid;
        private final int tag;
        private final int length;
        private boolean flushAfter;

        Completion(int qid, int tag, int length, boolean flushAfter) {
            this.qid = qid;
            this.tag = tag;
            this.length = length;
            this.flushAfter = flushAfter;
        }

        @Override
        public void completed() {
            if (flushAfter) {
                flushAfter = false;
                backing.flush(this);
                return;
            }
            commit(length);
        }

        @Override
        public void failed(IoFailure failure) {
            commit(failure.errno() != 0 ? -failure.errno() : -Errno.EIO);
        }

        private void commit(int result) {
            ByteBuffer m = UblkProtocol.message(UblkProtocol.COMMIT_AND_FETCH_REQ, 8);
            m.putShort((short) qid);
            m.putShort((short) tag);
            m.putInt(result);
            try {
                send(m);
            } catch (IOException e) {
                // The target is gone; the main loop sees the end of the connection.
            }
        }
    }

    private void send(ByteBuffer m) throws IOException {
        synchronized (channel) {
            UblkProtocol.send(channel, m);
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
