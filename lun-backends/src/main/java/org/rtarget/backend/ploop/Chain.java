package org.rtarget.backend.ploop;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import org.rtarget.backend.Errno;
import org.rtarget.backend.posix.PosixException;
import org.rtarget.backend.posix.PosixFile;

/**
 * One generation of a device's delta stack: the open deltas (base first, top last), the cluster
 * map over them, and the reads and writes that use both. A snapshot, merge or top replacement
 * builds a new chain and switches to it; requests in flight finish on the one they entered
 * ({@link #gate}), whose files stay open until they have.
 *
 * <p>Reads go to the level the map names, or are zeros. A write to a cluster the top holds is a
 * pwrite in place, without a lock. A write to any other cluster allocates one at the end of the
 * top under a per-cluster lock (striped, so concurrent writers to one cluster allocate it once),
 * fills it (the rest of the cluster copied from the level below that holds it; a cluster no level
 * holds is fallocated and reads as zeros), fdatasyncs, and only then writes the BAT entry and
 * publishes the cluster in the map: a crash may leak the cluster, never point the BAT at unwritten
 * data. The BAT entry itself is durable after the next flush, like any acknowledged write.
 */
final class Chain {

    /** Allocation lock stripes: only writers to unallocated clusters take one. */
    private static final int LOCK_STRIPES = 256;
    private static final int PUNCH_HOLE = PosixFile.FALLOC_FL_PUNCH_HOLE | PosixFile.FALLOC_FL_KEEP_SIZE;

    private final DeltaFile[] levels;
    private final int top;
    private final DeltaFile topDelta;
    private final PosixFile topFile;
    private final ClusterMap map;
    private final boolean writable;
    private final long size;
    private final int clusterBytes;
    private final int clusterShift;
    private final Allocation allocation;
    private final ReentrantLock[] allocationLocks;
    /** Set while a merge copies the top: writes and unmaps mark what they changed. */
    private volatile DirtyClusters dirty;
    /**
     * Set when another chain took over this one's top file while requests may still run here (a
     * reopen whose drain timed out): they may finish their data, but no longer change the BAT.
     */
    private volatile boolean fenced;

    final RequestGate gate;

    /**
     * Where a top file's clusters are allocated: the next free cluster and the per-cluster locks.
     * Two chains over the same top file (a same-file reopen while the old chain's requests may still
     * run) share one, so they never take the same cluster, and a straggler of the old chain checks
     * its fence under the very lock the new chain's writer of that cluster takes.
     */
    static final class Allocation {
        private final AtomicLong next;
        private final ReentrantLock[] locks = new ReentrantLock[LOCK_STRIPES];

        Allocation(long firstFree) {
            this.next = new AtomicLong(firstFree);
            for (int i = 0; i < LOCK_STRIPES; i++) {
                locks[i] = new ReentrantLock();
            }
        }

        /** This allocation, never below {@code firstFree} from now on. */
        Allocation atLeast(long firstFree) {
            next.accumulateAndGet(firstFree, Math::max);
            return this;
        }

        long peek() {
            return next.get();
        }
    }

    /**
     * Takes a reference on every level; they are released when the chain is retired and idle.
     *
     * @param nextFreeCluster where the top's next allocated cluster goes
     */
    Chain(DeltaFile[] levels, ClusterMap map, boolean writable, long nextFreeCluster) {
        this(levels, map, writable, new Allocation(nextFreeCluster));
    }

    /** A chain that allocates in its top through {@code allocation} (shared with an older chain over the same top). */
    Chain(DeltaFile[] levels, ClusterMap map, boolean writable, Allocation allocation) {
        this.levels = levels.clone();
        this.top = levels.length - 1;
        this.topDelta = levels[top];
        this.topFile = topDelta.file();
        this.map = map;
        this.writable = writable;
        PloopHeader header = topDelta.header();
        this.size = header.sizeBytes();
        this.clusterBytes = header.clusterBytes();
        this.clusterShift = Integer.numberOfTrailingZeros(clusterBytes);
        this.allocation = allocation;
        this.allocationLocks = allocation.locks;
        for (DeltaFile level : this.levels) {
            level.retain();
        }
        this.gate = new RequestGate(() -> {
            for (DeltaFile level : this.levels) {
                level.release();
            }
        });
    }

    DeltaFile level(int index) {
        return levels[index];
    }

    DeltaFile[] levels() {
        return levels.clone();
    }

    int top() {
        return top;
    }

    DeltaFile topDelta() {
        return topDelta;
    }

    ClusterMap map() {
        return map;
    }

    boolean writable() {
        return writable;
    }

    long size() {
        return size;
    }

    int clusterBytes() {
        return clusterBytes;
    }

    /** No new request will use this chain: its files are released once the last one in flight is done. */
    void retire() {
        gate.retire();
    }

    Allocation allocation() {
        return allocation;
    }

    /** From now on this chain's requests change no BAT entry (see {@link #fenced}). */
    void fence() {
        fenced = true;
    }

    /** The reopen that fenced this chain failed: it serves on. */
    void unfence() {
        fenced = false;
    }

    boolean isFenced() {
        return fenced;
    }

    /** Called with the cluster's allocation lock held, before a BAT entry changes. */
    private void checkNotFenced(int vc) throws PosixException {
        if (fenced) {
            throw new PosixException("change BAT entry " + vc + " of", topDelta.path().toString(), Errno.ESTALE);
        }
    }

    void trackChanges(DirtyClusters tracker) {
        dirty = tracker;
    }

    /** Fills {@code dst} from virtual offset {@code offset}. */
    void read(long offset, MemorySegment dst) throws PosixException {
        long length = dst.byteSize();
        long done = 0;
        while (done < length) {
            long at = offset + done;
            int vc = (int) (at >>> clusterShift);
            long inCluster = at & (clusterBytes - 1);
            long entry = map.get(vc);
            long n = Math.min(runBytes(vc, entry, inCluster, length - done), length - done);
            MemorySegment part = n == length ? dst : dst.asSlice(done, n);
            if (entry == ClusterMap.UNMAPPED) {
                part.fill((byte) 0);
            } else {
                levels[ClusterMap.level(entry)].file().readFully(part, physical(entry) + inCluster);
            }
            done += n;
        }
    }

    /** Writes {@code src} at virtual offset {@code offset}. */
    void write(long offset, MemorySegment src) throws PosixException {
        long length = src.byteSize();
        long done = 0;
        while (done < length) {
            long at = offset + done;
            int vc = (int) (at >>> clusterShift);
            long inCluster = at & (clusterBytes - 1);
            long entry = map.get(vc);
            long n;
            if (ClusterMap.level(entry) == top) {
                n = Math.min(runBytes(vc, entry, inCluster, length - done), length - done);
                if (fenced) {
                    // another chain owns the top file now: a late write here could land over its data
                    throw new PosixException("write in place in", topDelta.path().toString(), Errno.ESTALE);
                }
                topFile.writeFully(n == length ? src : src.asSlice(done, n), physical(entry) + inCluster);
            } else {
                n = Math.min(clusterBytes - inCluster, length - done);
                writeToNewCluster(vc, (int) inCluster, n == length ? src : src.asSlice(done, n));
            }
            markChanged(at, n);
            done += n;
        }
    }

    /**
     * Bytes from {@code inCluster} in cluster {@code vc} on that read or write with one call: the
     * following clusters continue it if they are unmapped like it, or sit right after it in the
     * same delta.
     */
    private long runBytes(int vc, long entry, long inCluster, long wanted) {
        long n = clusterBytes - inCluster;
        int clusters = map.clusters();
        for (int next = vc + 1, k = 1; n < wanted && next < clusters; next++, k++) {
            long following = map.get(next);
            boolean continues = entry == ClusterMap.UNMAPPED
                    ? following == ClusterMap.UNMAPPED
                    : ClusterMap.level(following) == ClusterMap.level(entry)
                            && ClusterMap.cluster(following) == ClusterMap.cluster(entry) + k;
            if (!continues) {
                break;
            }
            n += clusterBytes;
        }
        return n;
    }

    private void writeToNewCluster(int vc, int inCluster, MemorySegment part) throws PosixException {
        ReentrantLock lock = allocationLocks[vc & (LOCK_STRIPES - 1)];
        lock.lock();
        try {
            checkNotFenced(vc);
            long entry = map.get(vc);
            if (ClusterMap.level(entry) == top) {
                // another writer allocated it while we waited for the lock
                topFile.writeFully(part, physical(entry) + inCluster);
                return;
            }
            long cluster = allocate();
            long at = cluster * clusterBytes;
            if (inCluster == 0 && part.byteSize() == clusterBytes) {
                topFile.writeFully(part, at);
            } else if (entry != ClusterMap.UNMAPPED) {
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment whole = arena.allocate(clusterBytes);
                    levels[ClusterMap.level(entry)].file().readFully(whole, physical(entry));
                    MemorySegment.copy(part, 0, whole, inCluster, part.byteSize());
                    topFile.writeFully(whole, at);
                }
            } else {
                extendOver(at);
                topFile.writeFully(part, at + inCluster);
            }
            topFile.dataSync();
            checkNotFenced(vc); // the data may have taken long: the cluster is leaked, never named
            topDelta.setCluster(vc, cluster);
            map.set(vc, top, cluster);
        } finally {
            lock.unlock();
        }
    }

    private long allocate() throws PosixException {
        long cluster = allocation.next.getAndIncrement();
        PloopHeader header = topDelta.header();
        if (cluster > header.version().maxCluster(header.clusterSectors())) {
            throw new PosixException("allocate a cluster in", topDelta.path().toString(), Errno.EFBIG);
        }
        return cluster;
    }

    /**
     * Makes the file cover the fresh cluster at {@code at}, reading as zeros (fallocate extends
     * the file without writing; where the filesystem cannot, zeros are written).
     */
    private void extendOver(long at) throws PosixException {
        topFile.allocateZeroed(at, clusterBytes);
    }

    /** Makes every completed write durable: data and BAT are both in the top file. */
    void flush() throws PosixException {
        if (writable) {
            topFile.dataSync();
        }
    }

    /**
     * Makes {@code length} bytes at {@code offset} read as zeros, releasing what can be released:
     *
     * <ul>
     *   <li>a cluster no level holds: nothing to do;
     *   <li>part of a cluster: zeros are written there (through {@link #write}, so copy-on-write
     *       applies);
     *   <li>a whole cluster only the top holds: its BAT entry is cleared, made durable, and then its
     *       space punched out (in that order: the BAT never names a punched cluster as data);
     *   <li>a whole cluster the top holds that a lower level also holds: the top's cluster is
     *       punched (it stays allocated and reads as zeros, hiding the lower data);
     *   <li>a whole cluster only lower levels hold: a zero cluster is allocated in the top (without
     *       writing data: fallocate, then punched) so the lower data stays hidden.
     * </ul>
     */
    void unmap(long offset, long length) throws PosixException {
        long[] released = new long[0];
        int releasedCount = 0;
        MemorySegment zeros = null;
        try (Arena arena = Arena.ofConfined()) {
            long done = 0;
            while (done < length) {
                long at = offset + done;
                int vc = (int) (at >>> clusterShift);
                long inCluster = at & (clusterBytes - 1);
                long n = Math.min(clusterBytes - inCluster, length - done);
                boolean whole = inCluster == 0 && (n == clusterBytes || at + n == size);
                if (map.get(vc) == ClusterMap.UNMAPPED) {
                    // reads as zeros already
                } else if (!whole) {
                    if (zeros == null) {
                        zeros = arena.allocate(clusterBytes);
                    }
                    write(at, zeros.asSlice(0, n));
                } else {
                    long cluster = releaseOrHide(vc);
                    if (cluster != 0) {
                        if (releasedCount == released.length) {
                            released = Arrays.copyOf(released, Math.max(16, releasedCount * 2));
                        }
                        released[releasedCount++] = cluster;
                    }
                }
                done += n;
            }
        }
        if (releasedCount > 0) {
            topFile.dataSync(); // the cleared BAT entries are durable before the clusters go
            for (int i = 0; i < releasedCount; i++) {
                punch(released[i] * clusterBytes);
            }
        }
        markChanged(offset, length);
    }

    /** For a whole cluster being unmapped: the physical cluster to punch once the BAT is durable, or 0. */
    private long releaseOrHide(int vc) throws PosixException {
        ReentrantLock lock = allocationLocks[vc & (LOCK_STRIPES - 1)];
        lock.lock();
        try {
            checkNotFenced(vc);
            long entry = map.get(vc);
            if (entry == ClusterMap.UNMAPPED) {
                return 0;
            }
            if (ClusterMap.level(entry) == top && !heldBelowTop(vc)) {
                topDelta.setCluster(vc, 0);
                map.clear(vc);
                return ClusterMap.cluster(entry);
            }
            if (ClusterMap.level(entry) == top) {
                punch(physical(entry));
                return 0;
            }
            long cluster = allocate();
            long at = cluster * clusterBytes;
            extendOver(at);
            punch(at);
            topFile.dataSync();
            checkNotFenced(vc);
            topDelta.setCluster(vc, cluster);
            map.set(vc, top, cluster);
            return 0;
        } finally {
            lock.unlock();
        }
    }

    /** Punches out a cluster of the top so it reads as zeros; writes zeros where the filesystem cannot punch. */
    private void punch(long at) throws PosixException {
        try {
            topFile.fallocate(PUNCH_HOLE, at, clusterBytes);
        } catch (PosixException e) {
            if (e.errno() != Errno.EOPNOTSUPP) {
                throw e;
            }
            topFile.writeZeros(at, clusterBytes);
        }
    }

    private boolean heldBelowTop(int vc) {
        for (int level = 0; level < top; level++) {
            if (levels[level].cluster(vc) != 0) {
                return true;
            }
        }
        return false;
    }

    private void markChanged(long offset, long length) {
        DirtyClusters tracker = dirty;
        if (tracker != null && length > 0) {
            tracker.mark((int) (offset >>> clusterShift), (int) ((offset + length - 1) >>> clusterShift));
        }
    }

    /** Byte offset, in its delta, of the physical cluster an entry names. */
    private long physical(long entry) {
        return ClusterMap.cluster(entry) * clusterBytes;
    }

    /** Whether some level holds the cluster under virtual offset {@code offset}. */
    boolean mapped(long offset) {
        return map.get((int) (offset >>> clusterShift)) != ClusterMap.UNMAPPED;
    }

    /** For how many bytes from {@code offset} (at most {@code limit}) {@link #mapped} stays the same. */
    long sameMappingBytes(long offset, long limit) {
        int vc = (int) (offset >>> clusterShift);
        boolean held = map.get(vc) != ClusterMap.UNMAPPED;
        long n = clusterBytes - (offset & (clusterBytes - 1));
        for (int next = vc + 1; n < limit && next < map.clusters(); next++) {
            if ((map.get(next) != ClusterMap.UNMAPPED) != held) {
                break;
            }
            n += clusterBytes;
        }
        return Math.min(n, limit);
    }

    @Override
    public String toString() {
        return Arrays.toString(levels);
    }
}
