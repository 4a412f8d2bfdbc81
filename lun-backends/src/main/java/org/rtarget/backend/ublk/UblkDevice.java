package org.rtarget.backend.ublk;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.LinkOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import org.rtarget.backend.BlockDevice;
import org.rtarget.backend.DriverHost;
import org.rtarget.backend.Errno;
import org.rtarget.backend.IoCallback;
import org.rtarget.backend.IoFailure;
import org.rtarget.backend.StorageEvents;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A block device served by a user-space driver process (docs/ublk-protocol.md). This class plays
 * the part of Linux's ublk driver: it owns the request queue and the device state, hands requests
 * to the driver through per-tag slots in shared memory, and lives on when the driver crashes:
 * depending on the recovery mode, requests are failed, re-issued or kept for the next driver.
 */
public final class UblkDevice implements BlockDevice, DriverHost {
    private static final Logger log = LoggerFactory.getLogger(UblkDevice.class);

    private final String name;
    private final UblkParams params;
    private final Path socketPath;
    /** The private directory (mode 0700) that holds the shared data file. */
    private final Path dataDir;
    private final Path dataPath;
    private final Arena arena;
    private final MemorySegment data;
    private final ServerSocketChannel listener;
    private final ScheduledExecutorService watchdog;
    private final ReentrantLock lock = new ReentrantLock();
    /** Orders the standby notices (see {@link #storageLostUnlessLive}); taken before {@link #lock}. */
    private final Object notices = new Object();
    private volatile StorageEvents events = StorageEvents.NONE;
    private volatile Runnable onDead = () -> { };
    private final java.util.concurrent.atomic.AtomicLong liveCount = new java.util.concurrent.atomic.AtomicLong();
    /** Every open driver connection, the driving one or not: close() closes them all. */
    private final java.util.Set<DriverLink> links = java.util.concurrent.ConcurrentHashMap.newKeySet();

    // Guarded by lock.
    private int state = UblkProtocol.S_DEAD;
    private boolean started;
    private boolean closed;
    private DriverLink driver;
    private final Piece[] inDriver;
    private final boolean[] fetched;
    private int fetchedCount;
    private final ArrayDeque<Piece> queued = new ArrayDeque<>();
    private int nextTag;
    /** What the driver that started the device declared (UblkProtocol.FEATURE_*): a promise to initiators. */
    private volatile int features;
    /** A watchdog expiry asked to end the driving driver and it is being done. */
    private boolean fencing;

    private UblkDevice(String name, UblkParams params, Path socketPath, Path dataDir, Path dataPath, Arena arena,
                       MemorySegment data, ServerSocketChannel listener) {
        this.name = name;
        this.params = params;
        this.socketPath = socketPath;
        this.dataDir = dataDir;
        this.dataPath = dataPath;
        this.arena = arena;
        this.data = data;
        this.listener = listener;
        this.inDriver = new Piece[params.tags()];
        this.fetched = new boolean[params.tags()];
        this.watchdog = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "ublk-watchdog-" + name);
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Creates the device: the shared data file in {@code dataDir}, the socket at {@code socketPath}
     * for drivers to connect to. No driver runs yet: requests wait (bounded by the watchdog).
     */
    public static UblkDevice create(String name, UblkParams params, Path socketPath, Path dataDir)
            throws IOException {
        Files.createDirectories(socketPath.getParent());
        Files.deleteIfExists(socketPath);
        Files.createDirectories(dataDir);
        // Every block of the LUN passes through this file: a directory of our own (0700, a fresh
        // unpredictable name, so nobody can plant a link in it) and the file created new, 0600.
        Path privateDir = Files.createTempDirectory(dataDir, "rtarget-ublk-" + name + "-",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Path dataPath = privateDir.resolve(name + ".data");
        Arena arena = Arena.ofShared();
        MemorySegment data;
        try (FileChannel ch = FileChannel.open(dataPath, java.util.Set.of(StandardOpenOption.CREATE_NEW,
                StandardOpenOption.READ, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")))) {
            ch.truncate(params.sharedMemorySize());
            // A sparse file: pages appear as slots are first used.
            ch.write(ByteBuffer.allocate(1), params.sharedMemorySize() - 1);
            data = ch.map(FileChannel.MapMode.READ_WRITE, 0, params.sharedMemorySize(), arena);
        } catch (IOException e) {
            arena.close();
            deleteQuietly(dataPath, privateDir);
            throw new IOException("cannot create the data area " + dataPath + ": " + e.getMessage(), e);
        }
        ServerSocketChannel listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            listener.bind(UnixDomainSocketAddress.of(socketPath));
        } catch (IOException e) {
            listener.close();
            arena.close();
            deleteQuietly(dataPath, privateDir);
            throw new IOException("cannot listen on " + socketPath + ": " + e.getMessage(), e);
        }
        UblkDevice device = new UblkDevice(name, params, socketPath, privateDir, dataPath, arena, data, listener);
        device.startAccepting();
        // A tenth of the timeout (at most 1 s): a request fails close to request-timeout, not up to 1 s later.
        long period = Math.clamp(params.requestTimeout().toMillis() / 10, 10, 1000);
        device.watchdog.scheduleAtFixedRate(device::expireOldRequests, period, period, TimeUnit.MILLISECONDS);
        log.info("ublk LUN {}: waiting for a driver on {} ({} queue(s) x {} tags, recovery {})", name, socketPath,
                params.queues(), params.queueDepth(), params.recovery().name().toLowerCase());
        return device;
    }

    private static void deleteQuietly(Path... paths) {
        for (Path p : paths) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException e) {
                log.debug("cannot remove {}: {}", p, e.toString());
            }
        }
    }

    public Path socketPath() {
        return socketPath;
    }

    @Override
    public Path driverSocket() {
        return socketPath;
    }

    @Override
    public DriverHost driverHost() {
        return this;
    }

    /** Not until a driver makes it LIVE (which tells the gate through storageRecovered). */
    @Override
    public boolean readyWhenOpened() {
        return false;
    }

    @Override
    public java.util.Map<String, Object> describe() {
        return java.util.Map.of("driverState", stateName());
    }

    /** The shared data file (in a private directory). */
    public Path dataPath() {
        return dataPath;
    }

    /** The device state, as ublk names it (LIVE, QUIESCED, FAIL_IO, DEAD). */
    @Override
    public String stateName() {
        lock.lock();
        try {
            return UblkProtocol.stateName(state);
        } finally {
            lock.unlock();
        }
    }

    private boolean isClosed() {
        lock.lock();
        try {
            return closed;
        } finally {
            lock.unlock();
        }
    }

    /** For tests: messages queued for the driving connection that its writer has not written yet. */
    int queuedToDriver() {
        lock.lock();
        try {
            return driver == null ? 0 : driver.outbox.size();
        } finally {
            lock.unlock();
        }
    }

    /** How many times the device became LIVE (started or recovered): the supervisor's progress check. */
    @Override
    public long liveCount() {
        return liveCount.get();
    }

    /** Called once if the device dies for good (recovery "none" and a crash): the LUN goes away. */
    @Override
    public void onDead(Runnable action) {
        this.onDead = action;
    }

    // ----- BlockDevice -----

    @Override
    public long size() {
        return params.size();
    }

    @Override
    public int blockSize() {
        return params.blockSize();
    }

    @Override
    public String kind() {
        return "ublk";
    }

    /** Only the recovery modes promise that a new driver will bring the device back. */
    @Override
    public boolean standbyCapable() {
        return params.recovery().recovers();
    }

    /** Every driver takes DISCARD (one that cannot release space answers -EOPNOTSUPP). */
    @Override
    public boolean thinProvisioned() {
        return true;
    }

    /** Only where the driver declared that discarded ranges read back as zeros. */
    @Override
    public boolean unmapReadsZeros() {
        return (features & UblkProtocol.FEATURE_DISCARD_ZEROES) != 0;
    }

    @Override
    public boolean writesZeroes() {
        return (features & UblkProtocol.FEATURE_WRITE_ZEROES) != 0;
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayUnmap, IoCallback callback) {
        submit(UblkProtocol.OP_WRITE_ZEROES, mayUnmap ? 0 : UblkProtocol.OP_FLAG_NOUNMAP, offset, null, length, callback);
    }

    /** The socket is this device's: a new instance can listen on it only after this one closed. */
    @Override
    public boolean exclusiveStorage() {
        return true;
    }

    /**
     * Takes back a request none of whose pieces a driver holds: it will never be performed, and
     * fails RETRY. False if a driver holds part of it (it may still land: wait for it), or it is
     * unknown or done.
     */
    @Override
    public boolean cancel(IoCallback callback) {
        Request found = null;
        List<Request> finished = new ArrayList<>(1);
        lock.lock();
        try {
            for (Piece p : inDriver) {
                if (p != null && p.request.callback == callback && !p.request.done) {
                    return false;
                }
            }
            for (Iterator<Piece> it = queued.iterator(); it.hasNext(); ) {
                Piece p = it.next();
                if (p.request.callback == callback && !p.request.done) {
                    found = p.request;
                    it.remove();
                }
            }
            if (found != null) {
                fail(found, IoFailure.of(IoFailure.Kind.RETRY, 0, "cancelled before it reached a driver"), finished);
            }
        } finally {
            lock.unlock();
        }
        complete(finished);
        return found != null;
    }

    @Override
    public void attach(StorageEvents events) {
        this.events = events;
        // Until a driver has started the device, requests must wait: the same as a crash.
        if (params.recovery().recovers()) {
            storageLostUnlessLive(IoFailure.of(IoFailure.Kind.UNAVAILABLE, 0, "no driver has started " + name + " yet"));
        }
    }

    /**
     * Tells the standby gate the storage is lost, unless the device is LIVE again by now. The
     * "lost" notice of a crash and the "recovered" notice of the next driver come from different
     * threads, outside the device lock; without this a late "lost" could follow the "recovered"
     * and leave the LUN in standby with a live driver.
     */
    private void storageLostUnlessLive(IoFailure cause) {
        synchronized (notices) {
            lock.lock();
            try {
                if (state == UblkProtocol.S_LIVE) {
                    return;
                }
            } finally {
                lock.unlock();
            }
            events.storageLost(cause);
        }
    }

    /** The device is LIVE again (see {@link #storageLostUnlessLive}). */
    private void storageRecovered() {
        synchronized (notices) {
            events.storageRecovered();
        }
    }

    @Override
    public void read(long offset, ByteBuffer dst, IoCallback callback) {
        submit(UblkProtocol.OP_READ, 0, offset, dst, dst.remaining(), callback);
    }

    @Override
    public void write(long offset, ByteBuffer src, IoCallback callback) {
        submit(UblkProtocol.OP_WRITE, 0, offset, src, src.remaining(), callback);
    }

    @Override
    public void flush(IoCallback callback) {
        submit(UblkProtocol.OP_FLUSH, 0, 0, null, 0, callback);
    }

    @Override
    public void unmap(long offset, long length, IoCallback callback) {
        // One DISCARD per max-io piece keeps every request inside the slot size rule.
        submit(UblkProtocol.OP_DISCARD, 0, offset, null, length, callback);
    }

    @Override
    public int unmapGranularity() {
        return params.blockSize();
    }

    /** Splits a request into pieces of at most max-io bytes and queues or dispatches them. */
    private void submit(int op, int flags, long offset, ByteBuffer buffer, long length, IoCallback callback) {
        Request request = new Request(callback);
        List<Piece> pieces = new ArrayList<>(1);
        if (op == UblkProtocol.OP_FLUSH || length == 0) {
            pieces.add(new Piece(request, op, flags, offset, buffer, 0, 0));
        } else {
            for (long done = 0; done < length; ) {
                int n = (int) Math.min(params.maxIoBytes(), length - done);
                pieces.add(new Piece(request, op, flags, offset + done, buffer, (int) done, n));
                done += n;
            }
        }
        request.pending = pieces.size();
        List<Request> finished = new ArrayList<>(0);
        lock.lock();
        try {
            if (closed || (state == UblkProtocol.S_DEAD && started)) {
                fail(request, IoFailure.ofErrno(Errno.ENODEV, "ublk device " + name + " is gone"), finished);
            } else if (state == UblkProtocol.S_FAIL_IO) {
                fail(request, unavailable("fail-io: no driver"), finished);
            } else {
                queued.addAll(pieces);
                dispatch();
            }
        } finally {
            lock.unlock();
        }
        complete(finished);
    }

    /** Hands queued pieces to fetched tags while both exist. Called with the lock held. */
    private void dispatch() {
        if (state != UblkProtocol.S_LIVE || driver == null) {
            return;
        }
        while (!queued.isEmpty() && fetchedCount > 0) {
            Piece piece = queued.pollFirst();
            if (piece.request.done) {
                // Another piece failed or the watchdog failed the request: the caller has its buffer
                // back, so this piece must neither read it (a write) nor fill it (a read).
                continue;
            }
            int slot = freeSlot();
            fetched[slot] = false;
            fetchedCount--;
            inDriver[slot] = piece;
            piece.slot = slot;
            piece.dispatchedNanos = System.nanoTime();
            long bufferOffset = (long) slot * params.maxIoBytes();
            if (piece.op == UblkProtocol.OP_WRITE) {
                MemorySegment.copy(MemorySegment.ofBuffer(piece.buffer), piece.bufferOffset, data, bufferOffset,
                        piece.length);
            }
            ByteBuffer m = UblkProtocol.message(UblkProtocol.IO_CMD, 2 + 2 + 1 + 1 + 8 + 4 + 8);
            m.putShort((short) (slot / params.queueDepth()));
            m.putShort((short) (slot % params.queueDepth()));
            m.put((byte) piece.op);
            m.put((byte) piece.flags);
            m.putLong(piece.offset >>> 9);
            m.putInt(piece.length >>> 9);
            m.putLong(bufferOffset);
            if (!driver.send(m)) {
                // The link broke: its reader thread handles it as a crash. The driver never saw this
                // piece, so it waits in the queue rather than counting as in the driver's hands.
                inDriver[slot] = null;
                piece.slot = -1;
                queued.addFirst(piece);
                return;
            }
        }
    }

    /** A fetched tag, found round-robin from the last one used. Called with the lock held. */
    private int freeSlot() {
        int tags = fetched.length;
        for (int i = 0; i < tags; i++) {
            int slot = (nextTag + i) % tags;
            if (fetched[slot]) {
                nextTag = slot + 1;
                return slot;
            }
        }
        throw new IllegalStateException("no fetched tag although fetchedCount > 0");
    }

    // ----- the driver side -----

    private void startAccepting() {
        Thread t = new Thread(() -> {
            while (true) {
                SocketChannel ch;
                try {
                    ch = listener.accept();
                } catch (IOException e) {
                    return; // listener closed
                }
                DriverLink link = new DriverLink(ch);
                links.add(link);
                if (isClosed()) {
                    link.closeQuietly(); // close() ran while this one was being accepted
                }
                Thread reader = new Thread(link::run, "ublk-driver-" + name);
                reader.setDaemon(true);
                reader.start();
            }
        }, "ublk-accept-" + name);
        t.setDaemon(true);
        t.start();
    }

    /** One connection from a driver process: it reads the driver's messages on its own thread. */
    private final class DriverLink {
        private static final ByteBuffer STOP = ByteBuffer.allocate(0);
        /** At most this many messages go out in one gathering write. */
        private static final int WRITE_BATCH = 64;
        private final SocketChannel channel;
        /**
         * Messages to the driver are queued and written by a thread of the link's own: a driver
         * that stops reading blocks that thread, never a thread submitting I/O.
         */
        private final java.util.concurrent.LinkedBlockingQueue<ByteBuffer> outbox =
                new java.util.concurrent.LinkedBlockingQueue<>();
        private volatile boolean open = true;
        private boolean recovering;
        /** When the connection came: a process started later cannot be this driver (pid reuse). */
        final Instant acceptedAt = Instant.now();
        /** The process id the driver gave in START_DEV / START_USER_RECOVERY, 0 until then. */
        volatile long pid;
        /** What the driver declared it can do (UblkProtocol.FEATURE_*). */
        int declaredFeatures;

        DriverLink(SocketChannel channel) {
            this.channel = channel;
            Thread writer = new Thread(this::write, "ublk-driver-out-" + name);
            writer.setDaemon(true);
            writer.start();
        }

        /** Writes what is queued, everything that has piled up in one go. */
        private void write() {
            List<ByteBuffer> batch = new ArrayList<>(WRITE_BATCH);
            ByteBuffer[] messages = new ByteBuffer[WRITE_BATCH];
            try {
                while (true) {
                    batch.clear();
                    batch.add(outbox.take());
                    outbox.drainTo(batch, WRITE_BATCH - 1);
                    int n = 0;
                    for (ByteBuffer m : batch) {
                        if (m == STOP) {
                            UblkProtocol.sendAll(channel, messages, n);
                            return;
                        }
                        messages[n++] = m;
                    }
                    UblkProtocol.sendAll(channel, messages, n);
                    java.util.Arrays.fill(messages, 0, n, null);
                }
            } catch (IOException | InterruptedException e) {
                closeQuietly();
            }
        }

        void run() {
            UblkProtocol.Receiver receiver = new UblkProtocol.Receiver(channel);
            try {
                sendDeviceInfo();
                while (true) {
                    ByteBuffer m = receiver.next();
                    if (m == null) {
                        break;
                    }
                    handle(m);
                }
            } catch (UblkProtocol.ProtocolException e) {
                log.warn("ublk LUN {}: closing the driver connection: protocol error: {}", name, e.getMessage());
            } catch (IOException e) {
                log.debug("ublk LUN {}: driver connection ended: {}", name, e.toString());
            } finally {
                closeQuietly();
                links.remove(this);
                disconnected(this);
            }
        }

        private void sendDeviceInfo() throws IOException {
            byte[] path = dataPath.toString().getBytes(StandardCharsets.UTF_8);
            ByteBuffer m = UblkProtocol.message(UblkProtocol.DEVICE_INFO, 8 + 4 + 2 + 2 + 4 + 4 + 1 + 8 + 2 + path.length);
            lock.lock();
            try {
                m.putLong(params.size());
                m.putInt(params.blockSize());
                m.putShort((short) params.queues());
                m.putShort((short) params.queueDepth());
                m.putInt(params.maxIoBytes());
                m.putInt(params.recovery().flags());
                m.put((byte) state);
            } finally {
                lock.unlock();
            }
            m.putLong(params.sharedMemorySize());
            m.putShort((short) path.length);
            m.put(path);
            send(m);
        }

        private void handle(ByteBuffer m) throws IOException {
            int type = m.get(0) & 0xFF;
            switch (type) {
                case UblkProtocol.FETCH_REQ -> {
                    need(m, 4);
                    fetch(this, m.getShort() & 0xFFFF, m.getShort() & 0xFFFF);
                }
                case UblkProtocol.COMMIT_AND_FETCH_REQ -> {
                    need(m, 8);
                    commit(this, m.getShort() & 0xFFFF, m.getShort() & 0xFFFF, m.getInt());
                }
                case UblkProtocol.START_DEV, UblkProtocol.START_USER_RECOVERY, UblkProtocol.END_USER_RECOVERY -> {
                    // u32 pid, and for the two starts an optional u32 of features
                    boolean starts = type != UblkProtocol.END_USER_RECOVERY;
                    if (!(m.remaining() == 4 || starts && m.remaining() == 8)) {
                        need(m, 4);
                    }
                    int pid = m.getInt();
                    if (starts) {
                        this.pid = Integer.toUnsignedLong(pid);
                        declaredFeatures = m.hasRemaining() ? m.getInt() : 0;
                    }
                    int result = control(this, type, pid); // queues the CTRL_REPLY too
                    if (!open) {
                        throw new IOException("driver gone");
                    }
                    if (result == 0 && type != UblkProtocol.START_USER_RECOVERY) {
                        liveCount.incrementAndGet();
                        // LIVE: the reply went first, now the waiting requests follow it.
                        lock.lock();
                        try {
                            dispatch();
                        } finally {
                            lock.unlock();
                        }
                        storageRecovered();
                    }
                }
                default -> throw new UblkProtocol.ProtocolException("unknown message type 0x" + Integer.toHexString(type));
            }
        }

        private void need(ByteBuffer m, int bytes) throws UblkProtocol.ProtocolException {
            if (m.remaining() != bytes) {
                throw new UblkProtocol.ProtocolException("message 0x" + Integer.toHexString(m.get(0) & 0xFF)
                        + " with " + m.remaining() + " bytes of fields, expected " + bytes);
            }
        }

        /** Queues a message for the driver; false if the connection is already closed. */
        boolean send(ByteBuffer m) {
            if (!open) {
                return false;
            }
            outbox.add(m);
            return true;
        }

        void closeQuietly() {
            open = false;
            outbox.add(STOP);
            try {
                channel.close();
            } catch (IOException e) {
                // already gone
            }
        }
    }

    private int slotOf(DriverLink link, int qid, int tag) throws UblkProtocol.ProtocolException {
        if (qid >= params.queues() || tag >= params.queueDepth()) {
            throw new UblkProtocol.ProtocolException("queue " + qid + " tag " + tag + " does not exist");
        }
        if (driver == null && !started && !closed) {
            driver = link; // the first driver to fetch on a never-started device claims it
        }
        if (link != driver) {
            throw new UblkProtocol.ProtocolException("a connection that does not drive the device sent I/O messages");
        }
        return qid * params.queueDepth() + tag;
    }

    private void fetch(DriverLink link, int qid, int tag) throws UblkProtocol.ProtocolException {
        lock.lock();
        try {
            int slot = slotOf(link, qid, tag);
            if (fetched[slot] || inDriver[slot] != null) {
                throw new UblkProtocol.ProtocolException("FETCH_REQ for queue " + qid + " tag " + tag
                        + ", which the driver already holds");
            }
            fetched[slot] = true;
            fetchedCount++;
            dispatch();
        } finally {
            lock.unlock();
        }
    }

    private void commit(DriverLink link, int qid, int tag, int result) throws UblkProtocol.ProtocolException {
        List<Request> finished = new ArrayList<>(1);
        lock.lock();
        try {
            int slot = slotOf(link, qid, tag);
            Piece piece = inDriver[slot];
            if (piece == null) {
                throw new UblkProtocol.ProtocolException("COMMIT_AND_FETCH_REQ for queue " + qid + " tag " + tag
                        + ", which carries no request (never given, or committed twice)");
            }
            if (result > piece.length) {
                throw new UblkProtocol.ProtocolException("result " + result + " for a request of " + piece.length + " bytes");
            }
            inDriver[slot] = null;
            fetched[slot] = true;
            fetchedCount++;
            if (piece.request.done) {
                // The watchdog already failed this request; the late answer is dropped.
            } else if (result < 0) {
                fail(piece.request, IoFailure.ofErrno(-result, "driver: " + opName(piece.op) + " at " + piece.offset
                        + ": " + Errno.name(-result)), finished);
            } else if (result < piece.length
                    && (piece.op == UblkProtocol.OP_READ || piece.op == UblkProtocol.OP_WRITE)) {
                // Only part of the data was transferred: for a read the rest of the slot is stale.
                fail(piece.request, IoFailure.ofErrno(Errno.EIO, "driver: short " + opName(piece.op) + " at "
                        + piece.offset + ": " + result + " of " + piece.length + " bytes"), finished);
            } else {
                if (piece.op == UblkProtocol.OP_READ) {
                    MemorySegment.copy(data, (long) slot * params.maxIoBytes(), MemorySegment.ofBuffer(piece.buffer),
                            piece.bufferOffset, piece.length);
                }
                pieceDone(piece.request, finished);
            }
            dispatch();
        } finally {
            lock.unlock();
        }
        complete(finished);
    }

    /** START_DEV, START_USER_RECOVERY, END_USER_RECOVERY: returns 0 or -errno. */
    private int control(DriverLink link, int type, int pid) {
        int result;
        lock.lock();
        try {
            result = switch (type) {
                case UblkProtocol.START_DEV -> {
                    if (started || driver != null && driver != link) {
                        yield -Errno.EEXIST; // another driver runs it, or it was started before
                    }
                    if (driver != link || fetchedCount < params.tags()) {
                        yield -Errno.EAGAIN; // not every tag fetched (driver == null: none yet)
                    }
                    state = UblkProtocol.S_LIVE;
                    started = true;
                    features = link.declaredFeatures;
                    log.info("ublk LUN {}: driver pid {} started the device: LIVE (discard reads zeros: {}, "
                            + "write-zeroes: {})", name, pid, unmapReadsZeros(), writesZeroes());
                    yield 0;
                }
                case UblkProtocol.START_USER_RECOVERY -> {
                    if (driver != null && driver != link) {
                        yield -Errno.EBUSY; // the old driver is not gone yet
                    }
                    if (state != UblkProtocol.S_QUIESCED && state != UblkProtocol.S_FAIL_IO) {
                        yield -Errno.EINVAL;
                    }
                    if ((features & ~link.declaredFeatures) != 0) {
                        // initiators were told (LBPRZ, write-zeroes) what the first driver declared
                        log.error("ublk LUN {}: driver pid {} declares features 0x{} but the device promised 0x{}: "
                                + "refused", name, pid, Integer.toHexString(link.declaredFeatures),
                                Integer.toHexString(features));
                        yield -Errno.EINVAL;
                    }
                    driver = link;
                    link.recovering = true;
                    log.info("ublk LUN {}: driver pid {} starts user recovery", name, pid);
                    yield 0;
                }
                default -> { // END_USER_RECOVERY
                    if (driver != link || !link.recovering) {
                        yield -Errno.EINVAL;
                    }
                    if (fetchedCount < params.tags()) {
                        yield -Errno.EAGAIN;
                    }
                    link.recovering = false;
                    state = UblkProtocol.S_LIVE;
                    log.info("ublk LUN {}: driver pid {} ended user recovery: LIVE, {} queued request(s) go to it",
                            name, pid, queued.size());
                    yield 0;
                }
            };
            // The reply is queued before the lock is released: once the device is LIVE, another
            // thread's submit() may dispatch at once, and no IO_CMD may overtake the reply.
            ByteBuffer reply = UblkProtocol.message(UblkProtocol.CTRL_REPLY, 5);
            reply.put((byte) type);
            reply.putInt(result);
            link.send(reply);
        } finally {
            lock.unlock();
        }
        return result;
    }

    /** A driver connection ended: if it drove the device, this is a crash. */
    private void disconnected(DriverLink link) {
        lock.lock();
        try {
            if (link != driver) {
                return; // a connection that never drove the device
            }
            if (closed) {
                driver = null;
                return;
            }
        } finally {
            lock.unlock();
        }
        // Meanwhile it still counts as the driver: a new one is told EBUSY until it is gone.
        awaitGone(link);
        List<Request> finished = new ArrayList<>();
        boolean lost = false;
        boolean dead = false;
        lock.lock();
        try {
            if (link != driver) {
                return;
            }
            driver = null;
            fencing = false;
            if (closed) {
                return;
            }
            UblkRecovery mode = params.recovery();
            int reissued = 0;
            int failed = 0;
            // Requests in the crashed driver's hands: re-issued (REISSUE) or failed with an error
            // that the standby gate does not turn into BUSY.
            for (int slot = inDriver.length - 1; slot >= 0; slot--) {
                Piece piece = inDriver[slot];
                inDriver[slot] = null;
                if (piece == null || piece.request.done) {
                    continue;
                }
                if (mode == UblkRecovery.REISSUE) {
                    queued.addFirst(piece);
                    reissued++;
                } else {
                    fail(piece.request, IoFailure.of(IoFailure.Kind.MEDIUM_ERROR, 0,
                            "the request was in the hands of the driver that crashed"), finished);
                    failed++;
                }
            }
            java.util.Arrays.fill(fetched, false);
            fetchedCount = 0;
            if (!started) {
                log.warn("ublk LUN {}: the driver went away before starting the device", name);
                return;
            }
            switch (mode) {
                case NONE -> {
                    state = UblkProtocol.S_DEAD;
                    failQueued(IoFailure.ofErrno(Errno.ENODEV, "ublk device " + name + " is gone"), finished);
                    dead = true;
                }
                case QUEUE, REISSUE -> {
                    state = UblkProtocol.S_QUIESCED;
                    lost = true;
                }
                case FAIL_IO -> {
                    state = UblkProtocol.S_FAIL_IO;
                    failQueued(unavailable("fail-io: the driver crashed"), finished);
                    lost = true;
                }
            }
            log.warn("ublk LUN {}: the driver is gone: {} ({} request(s) failed, {} re-issued, {} queued)", name,
                    UblkProtocol.stateName(state), failed, reissued, queued.size());
        } finally {
            lock.unlock();
        }
        complete(finished);
        if (lost) {
            storageLostUnlessLive(unavailable("the driver crashed"));
        }
        if (dead) {
            onDead.run();
        }
    }

    /**
     * The watchdog. A request that never reached a driver and waited longer than request-timeout
     * fails RETRY (answered BUSY: nothing was done). A request a driver has held that long is never
     * failed while that driver may still perform it: the driver is killed and, once it is gone, the
     * recovery mode's crash rules apply (re-issue, fail, or queue for the next driver).
     */
    private void expireOldRequests() {
        long limit = System.nanoTime() - params.requestTimeout().toNanos();
        List<Request> finished = new ArrayList<>();
        DriverLink toFence = null;
        lock.lock();
        try {
            for (Iterator<Piece> it = queued.iterator(); it.hasNext(); ) {
                Piece p = it.next();
                if (p.request.createdNanos - limit < 0 || p.request.done) {
                    it.remove();
                    fail(p.request, IoFailure.of(IoFailure.Kind.RETRY, 0, "ublk device " + name
                            + ": no driver took the request within " + params.requestTimeout().toMillis() + " ms"),
                            finished);
                }
            }
            if (!fencing && driver != null) {
                for (Piece p : inDriver) {
                    if (p != null && !p.request.done && p.dispatchedNanos - limit < 0) {
                        fencing = true;
                        toFence = driver;
                        break;
                    }
                }
            }
        } finally {
            lock.unlock();
        }
        if (!finished.isEmpty()) {
            log.warn("ublk LUN {}: {} request(s) waited longer than request-timeout ({} ms) for a driver and are "
                    + "answered BUSY", name, finished.size(), params.requestTimeout().toMillis());
        }
        complete(finished);
        if (toFence != null) {
            DriverLink link = toFence;
            Thread.ofPlatform().daemon().name("ublk-fence-" + name).start(() -> fence(link));
        }
    }

    /** Ends a driver that holds a request past request-timeout (see {@link #expireOldRequests}). */
    private void fence(DriverLink link) {
        if (driverProcess(link) == null) {
            log.error("ublk LUN {}: the driver holds a request longer than request-timeout ({} ms) but its process "
                    + "(pid {}) cannot be ended from here; its requests keep waiting for it", name,
                    params.requestTimeout().toMillis(), link.pid);
            return; // fencing stays set: said once
        }
        log.warn("ublk LUN {}: the driver holds a request longer than request-timeout ({} ms): ending it",
                name, params.requestTimeout().toMillis());
        awaitGone(link);
        link.closeQuietly(); // its reader thread then applies the crash rules
    }

    /**
     * Ends the driver process behind {@code link} and waits until it is gone, however long that
     * takes: before its requests are re-issued or failed, none of them may still land (a process
     * in uninterruptible I/O dies only when that I/O returns). Returns at once if the process is
     * already gone or unknown.
     */
    private void awaitGone(DriverLink link) {
        ProcessHandle process = driverProcess(link);
        if (process == null) {
            return;
        }
        log.warn("ublk LUN {}: killing driver pid {} and waiting until it is gone, so none of its requests can "
                + "land later", name, process.pid());
        while (true) {
            process.destroyForcibly();
            try {
                process.onExit().get(10, TimeUnit.SECONDS);
                return;
            } catch (java.util.concurrent.TimeoutException e) {
                log.warn("ublk LUN {}: driver pid {} is still not gone; its requests keep waiting", name, process.pid());
            } catch (java.util.concurrent.ExecutionException e) {
                return;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /**
     * The live process of the driver behind {@code link}: the pid it declared, if that is a live
     * process other than this one and its ancestors, and was already running when the driver
     * connected (so not a later process that reused the pid). Null otherwise.
     */
    private static ProcessHandle driverProcess(DriverLink link) {
        long pid = link.pid;
        if (pid <= 1) {
            return null;
        }
        for (ProcessHandle p = ProcessHandle.current(); p != null; p = p.parent().orElse(null)) {
            if (p.pid() == pid) {
                return null; // a driver inside this process (tests) or one of our parents
            }
        }
        ProcessHandle process = ProcessHandle.of(pid).filter(ProcessHandle::isAlive).orElse(null);
        if (process == null) {
            return null;
        }
        // start times have about a second of precision (the boot time's): allow for it
        Instant started = process.info().startInstant().orElse(Instant.MIN);
        return started.isAfter(link.acceptedAt.plusSeconds(2)) ? null : process;
    }

    private static IoFailure unavailable(String why) {
        return IoFailure.of(IoFailure.Kind.UNAVAILABLE, 0, why);
    }

    private void failQueued(IoFailure failure, List<Request> finished) {
        for (Piece p : queued) {
            fail(p.request, failure, finished);
        }
        queued.clear();
    }

    // ----- requests -----

    /** One BlockDevice call. */
    private static final class Request {
        final IoCallback callback;
        final long createdNanos = System.nanoTime();
        int pending;
        boolean done;
        IoFailure failure;

        Request(IoCallback callback) {
            this.callback = callback;
        }
    }

    /** Up to max-io bytes of a request: what one tag carries. */
    private static final class Piece {
        final Request request;
        final int op;
        final int flags;
        final long offset;
        final ByteBuffer buffer;
        final int bufferOffset;
        final int length;
        int slot = -1;
        long dispatchedNanos;

        Piece(Request request, int op, int flags, long offset, ByteBuffer buffer, int bufferOffset, int length) {
            this.request = request;
            this.op = op;
            this.flags = flags;
            this.offset = offset;
            this.buffer = buffer == null ? null : buffer.slice().order(ByteOrder.nativeOrder());
            this.bufferOffset = bufferOffset;
            this.length = length;
        }
    }

    private static void pieceDone(Request r, List<Request> finished) {
        if (!r.done && --r.pending == 0) {
            r.done = true;
            finished.add(r);
        }
    }

    private static void fail(Request r, IoFailure failure, List<Request> finished) {
        if (!r.done) {
            r.done = true;
            r.failure = failure;
            finished.add(r);
        }
    }

    /**
     * Completions run outside the lock: a callback may submit more I/O. A callback that throws is
     * logged: it must not stop the others, end the watchdog (a scheduled task that throws never
     * runs again) or pass for a protocol error of the driver whose commit completed it.
     */
    private static void complete(List<Request> finished) {
        for (Request r : finished) {
            try {
                if (r.failure == null) {
                    r.callback.completed();
                } else {
                    r.callback.failed(r.failure);
                }
            } catch (RuntimeException e) {
                log.error("ublk: an I/O completion callback threw", e);
            }
        }
    }

    private static String opName(int op) {
        return switch (op) {
            case UblkProtocol.OP_READ -> "read";
            case UblkProtocol.OP_WRITE -> "write";
            case UblkProtocol.OP_FLUSH -> "flush";
            case UblkProtocol.OP_DISCARD -> "discard";
            default -> "op " + op;
        };
    }

    @Override
    public void close() {
        List<Request> finished = new ArrayList<>();
        DriverLink link;
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            state = UblkProtocol.S_DEAD;
            for (int slot = 0; slot < inDriver.length; slot++) {
                if (inDriver[slot] != null) {
                    fail(inDriver[slot].request, unavailable("device closed"), finished);
                    inDriver[slot] = null;
                }
            }
            failQueued(unavailable("device closed"), finished);
            link = driver;
            driver = null;
        } finally {
            lock.unlock();
        }
        complete(finished);
        watchdog.shutdownNow();
        try {
            listener.close();
        } catch (IOException e) {
            // closing anyway
        }
        if (link != null) {
            link.closeQuietly();
        }
        for (DriverLink other : links) {
            other.closeQuietly(); // connections that never drove the device
        }
        arena.close();
        deleteQuietly(socketPath, dataPath, dataDir);
    }
}
