package org.rtarget.backend.ploop;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.function.BooleanSupplier;
import org.rtarget.backend.posix.PosixException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Copies the top delta of a chain into the delta below it (the target, opened read-write for
 * this), while requests go on writing to the top.
 *
 * <p>The chain marks every cluster it changes in a {@link DirtyClusters} map from before the
 * first pass; each pass copies what was marked, and the device repeats passes until few are left,
 * then holds I/O for the {@link #finish final pass} and the switch. The live view is never
 * disturbed: the target is overwritten only at clusters the top holds (so reads do not see it), and
 * its new clusters are unknown to the chain until the switch.
 *
 * <p>New target clusters follow the format's order: data written, fdatasync, then BAT entries.
 */
final class TopMerge implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(TopMerge.class);

    private static final int COMMIT_BATCH = 64;

    private final Chain chain;
    private final int top;
    private final DeltaFile source;
    private final DeltaFile target;
    private final int targetLevel;
    private final DeltaFile targetAsOpened;
    private final DirtyClusters changed;
    private final Progress progress;
    private final BooleanSupplier cancelled;
    private final Arena arena = Arena.ofConfined();
    private final MemorySegment buffer;
    private final int[] pendingClusters = new int[COMMIT_BATCH];
    private final long[] pendingTargets = new long[COMMIT_BATCH];
    private int pending;
    private long nextFree;
    private long done;
    private long total;

    /**
     * @param target the delta right under the top, opened read-write for the merge
     * @param cancelled polled between clusters: true stops the merge with an IOException
     */
    TopMerge(Chain chain, DeltaFile target, Progress progress, BooleanSupplier cancelled) {
        this.chain = chain;
        this.top = chain.top();
        this.source = chain.topDelta();
        this.target = target;
        this.targetLevel = top - 1;
        this.targetAsOpened = chain.level(targetLevel);
        this.changed = new DirtyClusters(chain.map().clusters());
        this.progress = progress;
        this.cancelled = cancelled;
        this.buffer = arena.allocate(chain.clusterBytes());
        this.nextFree = target.firstFreeCluster();
    }

    /** Where the target's next cluster would go (its allocation point once it is the top). */
    long nextFreeCluster() {
        return nextFree;
    }

    /** First pass: every cluster the top holds. Tracking starts before it, so nothing written meanwhile is missed. */
    void copyAll() throws IOException {
        checkCancelled();
        chain.trackChanges(changed);
        ClusterMap map = chain.map();
        for (int vc = 0; vc < map.clusters(); vc++) {
            if (ClusterMap.level(map.get(vc)) == top) {
                total++;
            }
        }
        progress.update(0, total);
        for (int vc = 0; vc < map.clusters(); vc++) {
            if (ClusterMap.level(map.get(vc)) == top) {
                copy(vc);
            }
        }
        commit();
    }

    /** Clusters changed since they were copied. */
    int changedClusters() {
        return changed.count();
    }

    /** Another pass over the clusters changed since they were copied. */
    void copyChanged() throws IOException {
        checkCancelled();
        total += changed.count();
        for (int vc = changed.next(0); vc >= 0; vc = changed.next(vc + 1)) {
            copy(vc);
        }
        commit();
    }

    /** The final pass, with I/O held: after it the target holds everything and it is durable. */
    void finish() throws IOException {
        copyChanged();
        try {
            target.file().dataSync();
        } catch (PosixException e) {
            throw failed(e);
        }
        chain.trackChanges(null);
        progress.update(done, done);
    }

    /**
     * Points the map's top-level clusters at the target, which becomes the new top. Call after
     * {@link #finish}, with no request in flight.
     */
    void remap(ClusterMap map) {
        for (int vc = 0; vc < map.clusters(); vc++) { // check all first: a half-remapped map would serve wrong data
            if (ClusterMap.level(map.get(vc)) == top && target.cluster(vc) == 0) {
                throw new IllegalStateException("merge left cluster " + vc + " uncopied in " + target.path());
            }
        }
        for (int vc = 0; vc < map.clusters(); vc++) {
            if (ClusterMap.level(map.get(vc)) == top) {
                map.set(vc, targetLevel, target.cluster(vc));
            }
        }
    }

    private void checkCancelled() throws IOException {
        if (cancelled.getAsBoolean()) {
            throw new IOException("merge of " + source.path() + " into " + target.path() + " cancelled: the device is closing");
        }
    }

    private void copy(int vc) throws IOException {
        checkCancelled();
        changed.clear(vc); // before the read: a write landing after it marks the cluster again
        long entry = chain.map().get(vc);
        int clusterBytes = chain.clusterBytes();
        try {
            if (ClusterMap.level(entry) != top) {
                // unmapped from the top since: take back the copy an earlier pass made
                if (target.cluster(vc) != 0 && targetAsOpened.cluster(vc) == 0) {
                    target.setCluster(vc, 0);
                }
            } else {
                copyCluster(vc, entry, clusterBytes);
            }
        } catch (PosixException e) {
            throw failed(e);
        }
        done++;
        progress.update(done, Math.max(done, total));
    }

    /** In place where the target holds the cluster; else at its end, named in its BAT at the next commit. */
    private void copyCluster(int vc, long entry, int clusterBytes) throws IOException, PosixException {
        source.file().readFully(buffer, ClusterMap.cluster(entry) * clusterBytes);
        long existing = Integer.toUnsignedLong(target.cluster(vc));
        if (existing != 0) {
            target.file().writeFully(buffer, existing * clusterBytes);
            return;
        }
        long cluster = nextFree++;
        target.file().writeFully(buffer, cluster * clusterBytes);
        pendingClusters[pending] = vc;
        pendingTargets[pending] = cluster;
        if (++pending == COMMIT_BATCH) {
            commit();
        }
    }

    /** Data first (fdatasync), then the BAT entries that name it. */
    private void commit() throws IOException {
        if (pending == 0) {
            return;
        }
        try {
            target.file().dataSync();
            for (int i = 0; i < pending; i++) {
                target.setCluster(pendingClusters[i], pendingTargets[i]);
            }
        } catch (PosixException e) {
            throw failed(e);
        }
        pending = 0;
    }

    private IOException failed(PosixException e) {
        return new IOException("merge of " + source.path() + " into " + target.path() + " failed: " + e.getMessage(), e);
    }

    /**
     * After a failure: takes back the BAT entries this merge added to the target (best effort), so
     * the target maps what it mapped before. Overwritten clusters the target already held keep the
     * copied data; the chain never read them (the top holds those clusters).
     */
    void rollBack() {
        pending = 0; // written but never named in the BAT: leaked, harmless
        try {
            boolean changedBat = false;
            for (int vc = 0; vc < chain.map().clusters(); vc++) {
                if (target.cluster(vc) != 0 && targetAsOpened.cluster(vc) == 0) {
                    target.setCluster(vc, 0);
                    changedBat = true;
                }
            }
            if (changedBat) {
                target.file().dataSync();
            }
        } catch (PosixException e) {
            log.warn("could not take back the merged clusters from {}: {}; the chain over it is unaffected,"
                    + " but the delta alone now maps some of them", target.path(), e.getMessage());
        }
    }

    /** Stops change tracking (if the merge did not finish) and frees the copy buffer. */
    @Override
    public void close() {
        chain.trackChanges(null);
        arena.close();
    }
}
