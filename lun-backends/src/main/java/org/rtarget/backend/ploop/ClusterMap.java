package org.rtarget.backend.ploop;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Where each virtual cluster lives: the level (delta index, 0 = base) of the topmost delta that
 * holds it and the physical cluster there, like dm-ploop's bat_levels beside its BAT. Built from
 * the BATs at open, so a read goes straight to the right delta instead of walking the chain.
 *
 * <p>One long per cluster, {@code (level + 1) << 32 | physical cluster}, 0 for "no delta holds it":
 * a single atomic store publishes an allocation, and readers need no lock.
 */
final class ClusterMap {

    static final long UNMAPPED = 0;

    private final AtomicLongArray entries;

    ClusterMap(int clusters) {
        entries = new AtomicLongArray(clusters);
    }

    /** The map of a chain: for every cluster, the topmost level whose BAT holds it. */
    static ClusterMap of(DeltaFile[] levels) {
        int clusters = levels[0].header().batEntries();
        ClusterMap map = new ClusterMap(clusters);
        for (int level = 0; level < levels.length; level++) {
            DeltaFile delta = levels[level];
            for (int vc = 0; vc < clusters; vc++) {
                int cluster = delta.cluster(vc);
                if (cluster != 0) {
                    map.entries.setPlain(vc, entry(level, cluster));
                }
            }
        }
        return map;
    }

    int clusters() {
        return entries.length();
    }

    long get(int vc) {
        return entries.getAcquire(vc);
    }

    void set(int vc, int level, long cluster) {
        entries.setRelease(vc, entry(level, cluster));
    }

    void clear(int vc) {
        entries.setRelease(vc, UNMAPPED);
    }

    /** The level an entry names, -1 for {@link #UNMAPPED}. */
    static int level(long entry) {
        return (int) (entry >>> 32) - 1;
    }

    /** The physical cluster an entry names. */
    static long cluster(long entry) {
        return entry & 0xFFFF_FFFFL;
    }

    static long entry(int level, long cluster) {
        return (long) (level + 1) << 32 | (cluster & 0xFFFF_FFFFL);
    }
}
