package org.rtarget.backend.ploop;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/**
 * Checks every BAT slot against the file it points into. Opening an image refuses one with any
 * finding; {@code check} reports them all and can zero the slots.
 */
final class BatScan {

    /** What can be wrong with one slot. */
    enum Problem {
        /** v1: a sector offset that does not fall on a cluster boundary. */
        MISALIGNED,
        /** A non-zero slot after the last virtual cluster. */
        BEYOND_VIRTUAL_SIZE,
        /** Points into the header and BAT clusters. */
        IN_HEADER,
        /** Points (partly) past the end of the file. */
        PAST_EOF,
        /** Points to a cluster an earlier slot already uses. */
        DUPLICATE
    }

    /** One bad slot: the virtual cluster, what is wrong, and the physical cluster it names. */
    record Finding(long slot, Problem problem, long cluster, String message) {
    }

    private BatScan() {
    }

    /**
     * Findings for {@code slots} (raw, as {@link Bat#readSlots} gives them), in slot order. Only
     * slots that name a cluster inside the file and after the BAT count for duplicates, the first
     * keeps the cluster.
     */
    static List<Finding> scan(PloopHeader header, int[] slots, long fileSize) {
        List<Finding> findings = new ArrayList<>();
        int clusterBytes = header.clusterBytes();
        long fileClusters = fileSize / clusterBytes; // only whole clusters hold data
        long headerClusters = header.headerClusters();
        BitSet used = new BitSet();
        for (int vc = 0; vc < slots.length; vc++) {
            int raw = slots[vc];
            if (raw == 0) {
                continue;
            }
            FormatVersion version = header.version();
            long cluster = version.clusterOf(raw, header.clusterSectors());
            if (vc >= Integer.toUnsignedLong(header.batEntries())) {
                findings.add(new Finding(vc, Problem.BEYOND_VIRTUAL_SIZE, cluster, "BAT slot " + vc
                        + " is past the last of the " + Integer.toUnsignedString(header.batEntries())
                        + " virtual clusters but holds " + Integer.toUnsignedString(raw)));
            } else if (!version.entryAligned(raw, header.clusterSectors())) {
                findings.add(new Finding(vc, Problem.MISALIGNED, cluster, "BAT entry " + vc + " holds sector "
                        + Integer.toUnsignedString(raw) + ", which is not on a cluster boundary"));
            } else if (cluster < headerClusters) {
                findings.add(new Finding(vc, Problem.IN_HEADER, cluster, "BAT entry " + vc + " points to cluster "
                        + cluster + ", inside the header and BAT (clusters 0 to " + (headerClusters - 1) + ")"));
            } else if (cluster >= fileClusters) {
                findings.add(new Finding(vc, Problem.PAST_EOF, cluster, "BAT entry " + vc + " points to cluster "
                        + cluster + ", past the end of the file (" + fileSize + " bytes, " + fileClusters
                        + " whole clusters)"));
            } else if (used.get((int) cluster)) {
                findings.add(new Finding(vc, Problem.DUPLICATE, cluster, "BAT entry " + vc + " points to cluster "
                        + cluster + ", which BAT entry " + firstOwner(header, slots, vc, cluster) + " already uses"));
            } else {
                used.set((int) cluster);
            }
        }
        return findings;
    }

    private static int firstOwner(PloopHeader header, int[] slots, int before, long cluster) {
        for (int vc = 0; vc < before; vc++) {
            if (slots[vc] != 0 && header.version().clusterOf(slots[vc], header.clusterSectors()) == cluster) {
                return vc;
            }
        }
        return -1;
    }
}
