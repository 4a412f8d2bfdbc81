package org.rtarget.backend.ploop;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The two ploop image versions. They differ in the signature and in what a BAT entry counts: v1
 * stores the data cluster's offset in 512-byte sectors, v2 its index in clusters. Both use 0 for
 * "not allocated" (cluster 0 always holds the header).
 */
public enum FormatVersion {
    /** "WithoutFreeSpace": BAT entries are sector offsets, so an image stops at 2^32 sectors (2 TiB). */
    V1("WithoutFreeSpace"),
    /** "WithouFreSpacExt": BAT entries are cluster indices. */
    V2("WithouFreSpacExt");

    static final int SIGNATURE_BYTES = 16;

    private final String signature;
    private final byte[] signatureBytes;

    FormatVersion(String signature) {
        this.signature = signature;
        this.signatureBytes = signature.getBytes(StandardCharsets.US_ASCII);
    }

    public String signature() {
        return signature;
    }

    byte[] signatureBytes() {
        return signatureBytes.clone();
    }

    /** The version whose signature the 16 bytes are, or null. */
    static FormatVersion bySignature(byte[] sixteenBytes) {
        for (FormatVersion v : values()) {
            if (Arrays.equals(v.signatureBytes, sixteenBytes)) {
                return v;
            }
        }
        return null;
    }

    /** Whether a non-zero BAT entry can name a cluster at all (a v1 sector offset must fall on a cluster). */
    boolean entryAligned(int entry, int clusterSectors) {
        return this == V2 || Integer.remainderUnsigned(entry, clusterSectors) == 0;
    }

    /** The physical cluster index a BAT entry names (0 = not allocated). */
    long clusterOf(int entry, int clusterSectors) {
        long unsigned = Integer.toUnsignedLong(entry);
        return this == V1 ? unsigned / clusterSectors : unsigned;
    }

    /** The BAT entry naming physical cluster {@code cluster}; see {@link #maxCluster}. */
    int entryFor(long cluster, int clusterSectors) {
        return (int) (this == V1 ? cluster * clusterSectors : cluster);
    }

    /** The largest physical cluster index a BAT entry of this version can name. */
    long maxCluster(int clusterSectors) {
        return this == V1 ? 0xFFFF_FFFFL / clusterSectors : 0xFFFF_FFFFL;
    }
}
