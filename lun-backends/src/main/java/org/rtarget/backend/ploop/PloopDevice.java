package org.rtarget.backend.ploop;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import org.rtarget.backend.BlockDevice;
import org.rtarget.backend.IoLane;
import org.rtarget.backend.ExtentCallback;
import org.rtarget.backend.IoCallback;
import org.rtarget.backend.IoFailure;
import org.rtarget.backend.StorageEvents;
import org.rtarget.backend.posix.PosixException;
import org.rtarget.backend.posix.PosixFile;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A chain of ploop deltas served as a block device (kind "ploop"): the base first, the writable
 * top last, read through a cluster map that says which delta holds each cluster (see
 * {@link Chain} for reads, copy-on-write and the durability order).
 *
 * <p>I/O runs as blocking pread/pwrite/fdatasync on the executor given at open and completes on
 * its threads; failures carry the errno (a dead FUSE mount under the top gives ENOTCONN, which the
 * standby gate acts on). Lower deltas are opened read-only; the top read-write with the in-use mark
 * set, cleared again by a clean {@link #close}.
 *
 * <p>Live operations, for a running server, never fail a request in flight:
 * <ul>
 *   <li>{@link #replaceTopDelta} / {@link #recover}: open the new top, switch to it, and signal
 *       {@link StorageEvents#storageRecovered()}. The server drains and syncs first; requests still
 *       on the old chain (hung on dead storage past the drain) are fenced: they change no BAT entry
 *       any more, never take a cluster the new chain takes, and fail RETRY when they return.
 *   <li>{@link #snapshot}: a new empty top; I/O is held only for the switch.
 *   <li>{@link #mergeTop}: copies the top into the delta below while I/O goes on, then holds I/O for
 *       a short final pass and the switch.
 * </ul>
 * They run one at a time. While I/O is held, new requests are parked and run after the switch.
 */
public final class PloopDevice implements BlockDevice {

    private static final Logger log = LoggerFactory.getLogger(PloopDevice.class);
    private static final int BLOCK_SIZE = 512;
    /** How long a snapshot, merge or close waits for requests in flight before giving up. */
    private static final long DRAIN_TIMEOUT_SECONDS = 30;
    /** A live merge holds I/O for its final pass once at most this many clusters are left to copy again. */
    private static final int FINAL_PASS_CLUSTERS = 64;
    private static final int MAX_MERGE_PASSES = 16;

    private final long size;
    private final int clusterBytes;
    private final boolean readOnly;
    /** This device's share of the I/O threads; a reopen takes a fresh one (see {@link IoLane}). */
    private volatile IoLane lane;
    /** Guards the switch of {@link #chain} against requests deciding to park. */
    private final Object switchLock = new Object();
    private final ArrayDeque<Request> parked = new ArrayDeque<>();
    /** One live operation at a time (snapshot, merge, replace, close). */
    private final ReentrantLock operations = new ReentrantLock();

    /** The chain new requests use; null once closed. */
    private volatile Chain chain;
    private volatile boolean closing;
    private volatile StorageEvents events = StorageEvents.NONE;

    private PloopDevice(Chain chain, boolean readOnly, IoLane lane) {
        this.chain = chain;
        this.size = chain.size();
        this.clusterBytes = chain.clusterBytes();
        this.readOnly = readOnly;
        this.lane = lane;
    }

    /**
     * Opens a delta chain. Every delta is checked (header, BAT) and must have the base's cluster
     * size and virtual size. A top whose in-use mark is already set (its last user crashed) opens
     * all the same, as ploop does after a check: the BAT is only ever written after the data it
     * names, so it is consistent.
     *
     * @param deltas the image files, base first, the top (written to unless read-only) last
     * @param ioExecutor runs the blocking file calls and the completions
     * @throws IOException naming the delta and what is wrong ({@link PloopFormatException} for the format)
     */
    public static PloopDevice open(List<Path> deltas, boolean readOnly, Executor ioExecutor) throws IOException {
        return open(deltas, readOnly, new IoLane(Objects.requireNonNull(ioExecutor, "ioExecutor"), DEFAULT_IO_THREADS));
    }

    /** At most this many requests of one device at the storage at once, unless told otherwise. */
    public static final int DEFAULT_IO_THREADS = 16;

    /** As {@link #open(List, boolean, Executor)}, on the device's own lane of I/O threads. */
    public static PloopDevice open(List<Path> deltas, boolean readOnly, IoLane lane) throws IOException {
        Objects.requireNonNull(lane, "lane");
        DeltaFile[] levels = openLevels(deltas, !readOnly);
        try {
            DeltaFile top = levels[levels.length - 1];
            if (!readOnly) {
                markInUse(top);
            }
            Chain chain = new Chain(levels, ClusterMap.of(levels), !readOnly, top.firstFreeCluster());
            PloopDevice device = new PloopDevice(chain, readOnly, lane);
            log.info("opened ploop chain {}: {} bytes in clusters of {}{}", deltas, device.size, device.clusterBytes,
                    readOnly ? ", read-only" : "");
            return device;
        } finally {
            releaseAll(levels); // the chain holds its own references
        }
    }

    private static DeltaFile[] openLevels(List<Path> deltas, boolean writableTop) throws IOException {
        if (deltas.isEmpty()) {
            throw new IllegalArgumentException("a ploop chain needs at least one delta");
        }
        Set<Path> seen = new HashSet<>();
        for (Path p : deltas) {
            if (!seen.add(p.toAbsolutePath().normalize())) {
                throw new PloopFormatException(p, "appears twice in the chain " + deltas);
            }
        }
        DeltaFile[] levels = new DeltaFile[deltas.size()];
        try {
            for (int i = 0; i < levels.length; i++) {
                levels[i] = DeltaFile.open(deltas.get(i), writableTop && i == levels.length - 1);
                checkFits(levels[i], levels[0]);
            }
            return levels;
        } catch (IOException | RuntimeException e) {
            releaseAll(levels);
            throw e;
        }
    }

    /** A delta must have the base's cluster size and virtual size to join its chain. */
    private static void checkFits(DeltaFile delta, DeltaFile base) throws PloopFormatException {
        PloopHeader h = delta.header();
        PloopHeader b = base.header();
        if (h.clusterBytes() != b.clusterBytes()) {
            throw new PloopFormatException(delta.path(), "cluster size " + h.clusterBytes()
                    + " bytes does not match the chain's " + b.clusterBytes() + " bytes (base " + base.path() + ")");
        }
        if (h.sizeInSectors() != b.sizeInSectors()) {
            throw new PloopFormatException(delta.path(), "virtual size " + h.sizeBytes()
                    + " bytes does not match the chain's " + b.sizeBytes() + " bytes (base " + base.path() + ")");
        }
    }

    private static void markInUse(DeltaFile top) throws IOException {
        try {
            top.markInUse();
        } catch (PosixException e) {
            throw new IOException("cannot set the in-use mark of ploop image " + top.path() + ": " + e.getMessage(), e);
        }
    }

    private static void releaseAll(DeltaFile[] deltas) {
        for (DeltaFile d : deltas) {
            if (d != null) {
                d.release();
            }
        }
    }

    /** The current chain, base first, top last. */
    public List<Path> deltas() {
        Chain c = chain;
        if (c == null) {
            return List.of();
        }
        return Arrays.stream(c.levels()).map(DeltaFile::path).toList();
    }

    public int clusterBytes() {
        return clusterBytes;
    }

    public boolean readOnly() {
        return readOnly;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public int blockSize() {
        return BLOCK_SIZE;
    }

    @Override
    public String kind() {
        return "ploop";
    }

    @Override
    public boolean standbyCapable() {
        return true;
    }

    @Override
    public boolean operatorRecovers() {
        return true;
    }

    @Override
    public boolean thinProvisioned() {
        return true;
    }

    @Override
    public java.util.Map<String, Object> describe() {
        return java.util.Map.of("deltas", deltas().stream().map(Path::toString).toList());
    }

    /** A writable chain holds its top delta open read-write with the in-use mark set. */
    @Override
    public boolean exclusiveStorage() {
        return !readOnly;
    }

    /** Only whole clusters can be released; see {@link Chain#unmap}. */
    @Override
    public int unmapGranularity() {
        return clusterBytes;
    }

    @Override
    public void attach(StorageEvents events) {
        this.events = Objects.requireNonNull(events, "events");
    }

    @Override
    public void read(long offset, ByteBuffer dst, IoCallback callback) {
        int length = dst.remaining();
        if (!inRange(offset, length)) {
            callback.failed(outOfRange("read", offset, length));
        } else {
            submit(new Request(this, Request.Operation.READ, offset, length, dst, callback));
        }
    }

    @Override
    public void write(long offset, ByteBuffer src, IoCallback callback) {
        int length = src.remaining();
        if (readOnly) {
            callback.failed(readOnlyFailure("write"));
        } else if (!inRange(offset, length)) {
            callback.failed(outOfRange("write", offset, length));
        } else {
            submit(new Request(this, Request.Operation.WRITE, offset, length, src, callback));
        }
    }

    @Override
    public void flush(IoCallback callback) {
        if (readOnly) {
            callback.completed(); // nothing was written through this device
        } else {
            submit(new Request(this, Request.Operation.FLUSH, 0, 0, null, callback));
        }
    }

    /**
     * Makes the range read as zeros, releasing space where the format allows:
     * <ul>
     *   <li>clusters no delta holds: nothing to do;
     *   <li>part of a cluster: zeros are written (copy-on-write if only a lower delta holds it);
     *   <li>a whole cluster only the top holds: its BAT entry is set to 0 and made durable, then its
     *       space is punched out of the file (it is leaked, never reused, so a late reader of the old
     *       location cannot see new data);
     *   <li>a whole cluster the top holds and a lower delta holds too: the top's cluster is punched
     *       but stays allocated, so it reads as zeros and keeps hiding the lower data;
     *   <li>a whole cluster only lower deltas hold: a zero cluster is allocated in the top
     *       (fallocate and punch: no data written) to hide the lower data; lower deltas are never
     *       changed.
     * </ul>
     * Where the filesystem cannot punch holes, zeros are written instead.
     */
    @Override
    public void unmap(long offset, long length, IoCallback callback) {
        if (readOnly) {
            callback.failed(readOnlyFailure("unmap"));
        } else if (!inRange(offset, length)) {
            callback.failed(outOfRange("unmap", offset, length));
        } else if (length == 0) {
            callback.completed();
        } else {
            submit(new Request(this, Request.Operation.UNMAP, offset, length, null, callback));
        }
    }

    /** From the cluster map, at once: mapped = some delta of the chain holds the cluster. */
    @Override
    public void extent(long offset, long limit, ExtentCallback callback) {
        Chain c = chain;
        if (c == null) {
            callback.failed(IoFailure.of(IoFailure.Kind.INTERNAL, 0, "extent after ploop device " + this + " was closed"));
        } else if (offset < 0 || offset >= size || limit <= 0) {
            callback.failed(outOfRange("extent", offset, limit));
        } else {
            boolean mapped = c.mapped(offset);
            callback.found(mapped, c.sameMappingBytes(offset, Math.min(limit, size - offset)));
        }
    }

    /** Runs a request on the current chain (on an I/O thread), or parks it while I/O is held. */
    void execute(Request request) {
        Chain c = enter(request);
        if (c == null) {
            return;
        }
        IoFailure failure;
        try {
            failure = perform(c, request);
            if (c.isFenced()) {
                // another chain took over while this ran: what it did is not where reads look now
                failure = IoFailure.of(IoFailure.Kind.RETRY, 0, request.describe() + " ran on the replaced chain " + c);
            }
        } finally {
            c.gate.exit();
        }
        request.complete(failure);
    }

    /** The chain the request may use, with the request counted in; null if it was parked or failed. */
    private Chain enter(Request request) {
        while (true) {
            Chain c = chain;
            if (c == null) {
                request.complete(closedFailure(request.describe()));
                return null;
            }
            if (c.gate.tryEnter()) {
                return c;
            }
            synchronized (switchLock) {
                if (chain == c && c.gate.held()) {
                    parked.add(request);
                    return null;
                }
            }
            // the chain was switched under us: take the new one
        }
    }

    private IoFailure perform(Chain c, Request r) {
        try {
            switch (r.operation) {
                case READ -> {
                    if (r.buffer.isDirect()) {
                        c.read(r.offset, MemorySegment.ofBuffer(r.buffer));
                    } else {
                        try (Arena arena = Arena.ofConfined()) {
                            MemorySegment bounce = arena.allocate(r.length);
                            c.read(r.offset, bounce);
                            MemorySegment.copy(bounce, 0, MemorySegment.ofBuffer(r.buffer), 0, r.length);
                        }
                    }
                }
                case WRITE -> {
                    if (r.buffer.isDirect()) {
                        c.write(r.offset, MemorySegment.ofBuffer(r.buffer));
                    } else {
                        try (Arena arena = Arena.ofConfined()) {
                            MemorySegment bounce = arena.allocate(r.length);
                            MemorySegment.copy(MemorySegment.ofBuffer(r.buffer), 0, bounce, 0, r.length);
                            c.write(r.offset, bounce);
                        }
                    }
                }
                case FLUSH -> c.flush();
                case UNMAP -> c.unmap(r.offset, r.length);
            }
            return null;
        } catch (PosixException e) {
            return IoFailure.ofErrno(e.errno(), r.describe() + ": " + e.getMessage());
        } catch (RuntimeException e) {
            log.warn("{} on ploop chain {} failed unexpectedly", r.describe(), c, e);
            return IoFailure.of(IoFailure.Kind.INTERNAL, 0, r.describe() + " on ploop chain " + c + " failed: " + e);
        }
    }

    private void submit(Request request) {
        try {
            lane.execute(request);
        } catch (RejectedExecutionException e) {
            request.complete(IoFailure.of(IoFailure.Kind.INTERNAL, 0,
                    "the I/O executor of ploop device " + this + " refused a request: " + e.getMessage()));
        }
    }

    // ---- live operations ----------------------------------------------------------------------

    /**
     * Replaces the top delta with {@code newTop} (ploop's replace-delta, the vz7 way): the new
     * file is opened and checked (same cluster size and virtual size as the chain), its in-use mark
     * set, the top level of the map rebuilt from its BAT, and new requests switched to it; those in
     * flight finish on the old descriptor, fenced (see the class comment). Then the old file's in-use
     * mark is cleared if it can still be reached, and {@link StorageEvents#storageRecovered()} is
     * signalled.
     *
     * @throws IOException if the new top cannot be used; the device keeps serving the old chain
     */
    public void replaceTopDelta(Path newTop) throws IOException {
        reopen(Objects.requireNonNull(newTop, "newTop"), false);
    }

    /**
     * Recovery after a storage failure: {@link #replaceTopDelta} with {@code replacement}, or the
     * same top path if null. The lower deltas are reopened at their paths too, since a dead mount
     * under them killed their descriptors as well; if one cannot be reopened, nothing changes.
     */
    @Override
    public void recover(Path replacement) throws IOException {
        reopen(replacement, true);
    }

    /** Switches to a chain with {@code newTop} (null: the same top path) and, if asked, the lower deltas reopened. */
    private void reopen(Path replacement, boolean lowerToo) throws IOException {
        operations.lock();
        try {
            Chain old = current();
            Path oldTop = old.topDelta().path();
            Path newTop = replacement != null ? replacement : oldTop;
            boolean sameTop = sameFile(oldTop, newTop);
            DeltaFile[] levels = old.levels();
            List<DeltaFile> opened = new ArrayList<>();
            Chain next;
            // Requests still running on the old chain (the caller drains first, but a hung storage can
            // outlast the drain) may finish their data but change no BAT entry from now on: the new
            // chain reads the BAT from the file and would not know of them.
            old.fence();
            try {
                if (lowerToo) {
                    for (int i = 0; i < old.top(); i++) {
                        levels[i] = DeltaFile.open(levels[i].path(), false);
                        opened.add(levels[i]);
                        checkFits(levels[i], old.level(0));
                    }
                }
                for (int i = 0; i < old.top(); i++) {
                    if (levels[i].path().toAbsolutePath().normalize().equals(newTop.toAbsolutePath().normalize())) {
                        throw new PloopFormatException(newTop, "is already level " + i + " of the chain");
                    }
                }
                DeltaFile fresh = DeltaFile.open(newTop, !readOnly);
                opened.add(fresh);
                checkFits(fresh, old.level(0));
                levels[old.top()] = fresh;
                if (!readOnly) {
                    markInUse(fresh);
                }
                // The same top file: the old chain may have allocated clusters the file's size does
                // not show yet; both allocate from one counter, so no cluster is taken twice.
                Chain.Allocation allocation = sameTop ? old.allocation().atLeast(fresh.firstFreeCluster())
                        : new Chain.Allocation(fresh.firstFreeCluster());
                next = new Chain(levels, ClusterMap.of(levels), !readOnly, allocation);
            } catch (IOException | RuntimeException e) {
                old.unfence(); // nothing changes: the old chain serves on
                throw e;
            } finally {
                opened.forEach(DeltaFile::release); // the new chain holds its own references
            }
            IoLane oldLane = lane;
            lane = oldLane.fresh(); // requests hung on the old storage keep their threads, not the new chain's
            switchTo(next, old);
            oldLane.moveWaitingTo(lane);
            if (!readOnly) {
                clearInUseOfReplaced(oldTop, newTop);
            }
            log.info("ploop device switched its top delta from {} to {}", oldTop, newTop);
        } finally {
            operations.unlock();
        }
        events.storageRecovered();
    }

    /** Whether two paths name one file (by path, or by inode where both can still be reached). */
    private static boolean sameFile(Path a, Path b) {
        if (a.toAbsolutePath().normalize().equals(b.toAbsolutePath().normalize())) {
            return true;
        }
        try {
            return Files.isSameFile(a, b);
        } catch (IOException e) {
            return false; // one of them cannot be reached: not the file the other one is
        }
    }

    /** Clears the in-use mark of a replaced top, if it is still reachable and not the new top itself. */
    private static void clearInUseOfReplaced(Path oldTop, Path newTop) {
        try {
            if (oldTop.equals(newTop) || Files.isSameFile(oldTop, newTop)) {
                return;
            }
            try (PosixFile file = PosixFile.open(oldTop, PosixFile.O_RDWR | PosixFile.O_CLOEXEC, 0)) {
                PloopHeader header = DeltaFile.readHeader(file);
                if (header.inUse()) {
                    DeltaFile.writeHeader(file, header.closed());
                }
            }
        } catch (IOException e) {
            log.info("could not clear the in-use mark of the replaced top delta {}: {}", oldTop, e.getMessage());
        }
    }

    /**
     * Takes a snapshot: {@code newTop} is created as an empty delta (the chain's cluster size and
     * virtual size), I/O is held until the requests in flight are done, the old top is synced,
     * marked closed and reopened read-only as a lower level, the new file becomes the top, and I/O
     * resumes. If anything fails, the device keeps its chain and the new file is removed.
     *
     * @throws IOException if {@code newTop} exists or cannot be created, or I/O did not drain in time
     */
    public void snapshot(Path newTop) throws IOException {
        operations.lock();
        try {
            Chain old = requireWritable("take a snapshot");
            PloopHeader h = old.topDelta().header();
            PloopImage.create(newTop, h.sizeBytes(), h.clusterBytes(), h.version());
            try {
                DeltaFile fresh = DeltaFile.open(newTop, true);
                try {
                    markInUse(fresh);
                    pushTop(old, fresh);
                } finally {
                    fresh.release(); // the new chain holds its own reference
                }
            } catch (IOException | RuntimeException e) {
                deleteQuietly(newTop);
                throw e;
            }
            log.info("ploop snapshot: {} is the new top over {}", newTop, old.topDelta().path());
        } finally {
            operations.unlock();
        }
    }

    /** With I/O held: the old top is made durable, marked closed and reopened read-only under {@code fresh}. */
    private void pushTop(Chain old, DeltaFile fresh) throws IOException {
        hold(old);
        DeltaFile oldTop = old.topDelta();
        DeltaFile frozen = null;
        try {
            oldTop.markClosed();
            frozen = oldTop.reopenReadOnly();
            DeltaFile[] levels = Arrays.copyOf(old.levels(), old.top() + 2);
            levels[old.top()] = frozen;
            levels[old.top() + 1] = fresh;
            // levels are counted from the base, so a new top changes no entry: the map carries over
            switchTo(new Chain(levels, old.map(), true, fresh.firstFreeCluster()), old);
        } catch (PosixException e) {
            restoreInUse(oldTop);
            resume(old);
            throw new IOException("cannot freeze the top delta " + oldTop.path() + ": " + e.getMessage(), e);
        } catch (IOException | RuntimeException e) {
            restoreInUse(oldTop);
            resume(old);
            throw e;
        } finally {
            if (frozen != null) {
                frozen.release();
            }
        }
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            log.warn("could not remove {} after the failed snapshot: {}", file, e.getMessage());
        }
    }

    private static void restoreInUse(DeltaFile top) {
        try {
            top.markInUse();
        } catch (PosixException e) {
            log.warn("could not set the in-use mark of {} again: {}", top.path(), e.getMessage());
        }
    }

    /**
     * Merges the top delta into the one below it, online: every cluster the top holds is copied
     * into the lower delta (in place where it holds the cluster, else allocated at its end, data
     * durable before the BAT entry) while I/O continues, clusters written meanwhile are copied again
     * in further passes, and once few are left I/O is held for the final pass and the switch. The
     * lower delta then is the writable top; the old top is marked closed and left on disk.
     *
     * @param progress told clusters copied / clusters to copy, from this thread
     * @return the path of the delta that left the chain (the old top)
     * @throws IOException if a copy fails (the device keeps serving the old chain, unchanged as seen
     *     through it) or I/O did not drain in time
     */
    public Path mergeTop(Progress progress) throws IOException {
        Objects.requireNonNull(progress, "progress");
        operations.lock();
        try {
            Chain old = requireWritable("merge");
            if (old.top() == 0) {
                throw new IllegalStateException("nothing to merge: the chain has only " + old.topDelta().path());
            }
            DeltaFile oldTop = old.topDelta();
            DeltaFile target = DeltaFile.open(old.level(old.top() - 1).path(), true);
            try (TopMerge merge = new TopMerge(old, target, progress, () -> closing)) {
                markInUse(target);
                copyAndSwitch(old, target, merge);
            } catch (IOException | RuntimeException e) {
                markClosedAfterFailure(target);
                throw e;
            } finally {
                target.release(); // the new chain holds its own reference
            }
            try {
                oldTop.markClosed();
            } catch (PosixException e) {
                log.warn("merged {} but could not mark it closed: {}", oldTop.path(), e.getMessage());
            } finally {
                oldTop.release();
            }
            log.info("ploop merge: {} merged into {}", oldTop.path(), target.path());
            return oldTop.path();
        } finally {
            operations.unlock();
        }
    }

    /**
     * The merge proper: passes while I/O runs, then the final pass and the switch with I/O held.
     * On failure the target's new BAT entries are taken back and I/O resumes on the old chain.
     * On success the old top is retained once more, for the caller to mark it closed.
     */
    private void copyAndSwitch(Chain old, DeltaFile target, TopMerge merge) throws IOException {
        boolean held = false;
        try {
            merge.copyAll();
            for (int pass = 0; pass < MAX_MERGE_PASSES && merge.changedClusters() > FINAL_PASS_CLUSTERS; pass++) {
                merge.copyChanged();
            }
            hold(old);
            held = true;
            merge.finish();
            ClusterMap map = old.map();
            DeltaFile[] levels = Arrays.copyOf(old.levels(), old.top());
            levels[old.top() - 1] = target;
            Chain next = new Chain(levels, map, true, merge.nextFreeCluster());
            try {
                merge.remap(map); // the same map object: the old chain is idle and about to go
            } catch (RuntimeException e) {
                next.retire();
                throw e;
            }
            old.topDelta().retain(); // keeps its descriptor for the clean close after the switch
            switchTo(next, old);
        } catch (IOException | RuntimeException e) {
            merge.rollBack();
            if (held) {
                resume(old);
            }
            throw e;
        }
    }

    /** After a failed merge: the target is no longer written, so its in-use mark goes. */
    private static void markClosedAfterFailure(DeltaFile target) {
        try {
            target.markClosed();
        } catch (PosixException e) {
            log.warn("could not clear the in-use mark of {} after the failed merge: {}", target.path(), e.getMessage());
        }
    }

    private Chain current() {
        Chain c = chain;
        if (c == null) {
            throw new IllegalStateException("ploop device is closed");
        }
        return c;
    }

    private Chain requireWritable(String operation) {
        Chain c = current();
        if (readOnly) {
            throw new IllegalStateException("cannot " + operation + " on a read-only ploop device");
        }
        return c;
    }

    /** Holds new requests on {@code c} and waits for those in flight; on failure, I/O resumes. */
    private void hold(Chain c) throws IOException {
        c.gate.hold();
        boolean idle;
        try {
            idle = c.gate.awaitIdle(DRAIN_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            resume(c);
            throw new InterruptedIOException("interrupted while waiting for I/O on " + c + " to drain");
        }
        if (!idle) {
            resume(c);
            throw new IOException("requests in flight on " + c + " did not finish within " + DRAIN_TIMEOUT_SECONDS
                    + " s; nothing was changed");
        }
    }

    private void resume(Chain c) {
        List<Request> again;
        synchronized (switchLock) {
            c.gate.resume();
            again = drainParked();
        }
        again.forEach(this::submit);
    }

    /** Makes {@code next} current, retires {@code old} (its files close after its last request) and runs parked requests. */
    private void switchTo(Chain next, Chain old) {
        List<Request> again;
        synchronized (switchLock) {
            chain = next;
            again = drainParked();
        }
        old.retire();
        again.forEach(this::submit);
    }

    private List<Request> drainParked() {
        List<Request> all = new ArrayList<>(parked);
        parked.clear();
        return all;
    }

    /**
     * Closes the device: waits (bounded) for requests in flight, makes the top durable and clears
     * its in-use mark. If requests are still stuck in the storage, the mark stays set (this is no
     * clean close) and the descriptors close when they return.
     */
    @Override
    public void close() {
        closing = true; // a running merge stops at its next cluster
        operations.lock();
        try {
            Chain c = chain;
            if (c == null) {
                return;
            }
            c.gate.hold();
            boolean idle;
            try {
                idle = c.gate.awaitIdle(DRAIN_TIMEOUT_SECONDS, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                idle = false;
            }
            if (!idle) {
                log.warn("closing ploop chain {} with requests still in flight; its in-use mark stays set", c);
            } else if (c.writable()) {
                try {
                    c.topDelta().markClosed();
                } catch (PosixException e) {
                    log.warn("could not mark ploop image {} closed: {}", c.topDelta().path(), e.getMessage());
                }
            }
            List<Request> toFail;
            synchronized (switchLock) {
                chain = null;
                toFail = drainParked();
            }
            c.retire();
            toFail.forEach(r -> r.complete(closedFailure(r.describe())));
            log.info("closed ploop chain {}", c);
        } finally {
            operations.unlock();
        }
    }

    private boolean inRange(long offset, long length) {
        return offset >= 0 && length >= 0 && offset <= size - length;
    }

    private IoFailure outOfRange(String operation, long offset, long length) {
        return IoFailure.of(IoFailure.Kind.INVALID_REQUEST, 0, operation + " of " + length + " bytes at " + offset
                + " is outside ploop device " + this + " of " + size + " bytes");
    }

    private IoFailure readOnlyFailure(String operation) {
        return IoFailure.of(IoFailure.Kind.READ_ONLY, 0, operation + " refused: ploop device " + this + " is read-only");
    }

    private IoFailure closedFailure(String operation) {
        return IoFailure.of(IoFailure.Kind.INTERNAL, 0, operation + " after ploop device " + this + " was closed");
    }

    @Override
    public String toString() {
        List<Path> d = deltas();
        return d.isEmpty() ? "(closed)" : d.getLast().toString();
    }
}
