package org.rtarget.backend.ploop;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;

/**
 * The 64-byte header at the start of every ploop image ({@code struct ploop_pvd_header}), all
 * fields little-endian:
 *
 * <pre>
 *  0 signature[16]   "WithoutFreeSpace" (v1) or "WithouFreSpacExt" (v2)
 * 16 type            2 (PRL_IMAGE_COMPRESSED)
 * 20 heads           CHS geometry, unused by ploop
 * 24 cylinders
 * 28 clusterSectors  m_Sectors: the cluster size in 512-byte sectors
 * 32 batEntries      m_Size: virtual clusters, one BAT entry each
 * 36 sizeInSectors   v1: u32 (+ 4 unused bytes), v2: u64
 * 44 diskInUse       0x746F6E59 while open read-write; 0 or "v2.1" after a clean close
 * 48 firstBlockOffset first data cluster, in sectors: the header and BAT fill everything before it
 * 52 flags           CIF_Empty 0x1, CIF_FmtVersionConvert 0x2
 * 56 formatExtensionOffset  byte offset of the optional extension block (CBT bitmap), 0 = none
 * </pre>
 *
 * The BAT follows: entry i (for virtual cluster i) is the u32 at byte {@code 64 + 4 i}.
 */
public record PloopHeader(
        FormatVersion version,
        int type,
        int heads,
        int cylinders,
        int clusterSectors,
        int batEntries,
        long sizeInSectors,
        int diskInUse,
        int firstBlockOffset,
        int flags,
        long formatExtensionOffset) {

    public static final int SIZE = 64;
    public static final int SECTOR = 512;
    /** PRL_IMAGE_COMPRESSED, the only type ploop knows. */
    public static final int TYPE_COMPRESSED = 2;
    /** SIGNATURE_DISK_IN_USE: "Ynot", set while an image is open read-write. */
    public static final int DISK_IN_USE = 0x746F6E59;
    /** SIGNATURE_DISK_CLOSED_V21: "v2.1", what newer ploop writes on a clean close (we write 0, the v2.0 value). */
    public static final int DISK_CLOSED_V21 = 0x312e3276;
    public static final int FLAG_EMPTY = 0x1;
    public static final int FLAG_VERSION_CONVERT = 0x2;
    /** ploop's limits (is_valid_blocksize): 32 KiB to 64 MiB, a power of two. */
    public static final int MIN_CLUSTER_BYTES = 32 * 1024;
    public static final int MAX_CLUSTER_BYTES = 64 * 1024 * 1024;
    public static final int DEFAULT_CLUSTER_BYTES = 1024 * 1024;
    /** BAT entries start at u32 index 16, right after the header (PLOOP_MAP_OFFSET). */
    static final int MAP_OFFSET = SIZE / Integer.BYTES;
    /** Keeps a BAT addressable by a Java array. */
    private static final long MAX_BAT_ENTRIES = Integer.MAX_VALUE - MAP_OFFSET - 64;

    /** A header for a new, empty image: ploop's geometry, the BAT right after the header, CIF_Empty set. */
    public static PloopHeader forNewImage(FormatVersion version, long sizeBytes, int clusterBytes) {
        checkClusterBytes(clusterBytes);
        if (sizeBytes <= 0 || sizeBytes % SECTOR != 0) {
            throw new IllegalArgumentException("image size must be a positive multiple of 512 bytes, not " + sizeBytes);
        }
        int clusterSectors = clusterBytes / SECTOR;
        long sectors = sizeBytes / SECTOR;
        long entries = ceilDiv(sectors, clusterSectors);
        if (entries > MAX_BAT_ENTRIES) {
            throw new IllegalArgumentException("image size " + sizeBytes + " needs " + entries
                    + " clusters of " + clusterBytes + " bytes, more than this implementation handles");
        }
        if (version == FormatVersion.V1 && sectors > 0xFFFF_FFFFL) {
            throw new IllegalArgumentException("a v1 image holds at most 2^32 sectors (2 TiB), not " + sectors);
        }
        long[] headsCylinders = geometry(sectors);
        int batClusters = batClusters((int) entries, clusterBytes);
        return new PloopHeader(version, TYPE_COMPRESSED, (int) headsCylinders[0], (int) headsCylinders[1],
                clusterSectors, (int) entries, sectors, 0, batClusters * clusterSectors, FLAG_EMPTY, 0);
    }

    /** Clusters the header and a BAT of {@code entries} entries take (ploop_nr_bat_clusters). */
    public static int batClusters(int entries, int clusterBytes) {
        long bytes = (MAP_OFFSET + (long) entries) * Integer.BYTES;
        return (int) ceilDiv(bytes, clusterBytes);
    }

    static void checkClusterBytes(int clusterBytes) {
        if (Integer.bitCount(clusterBytes) != 1 || clusterBytes < MIN_CLUSTER_BYTES || clusterBytes > MAX_CLUSTER_BYTES) {
            throw new IllegalArgumentException("cluster size must be a power of two from 32 KiB to 64 MiB, not "
                    + clusterBytes);
        }
    }

    /**
     * Reads and checks a header. Strict: anything ploop itself would refuse, or that does not add up
     * (cluster size, BAT size against the virtual size, first data block against the BAT), fails
     * with a message naming {@code file} and the field.
     */
    public static PloopHeader parse(Path file, ByteBuffer bytes) throws PloopFormatException {
        if (bytes.remaining() < SIZE) {
            throw new PloopFormatException(file, "too short for a ploop header: " + bytes.remaining()
                    + " bytes, a header has " + SIZE);
        }
        ByteBuffer b = bytes.slice().order(ByteOrder.LITTLE_ENDIAN);
        byte[] signature = new byte[FormatVersion.SIGNATURE_BYTES];
        b.get(0, signature);
        FormatVersion version = FormatVersion.bySignature(signature);
        if (version == null) {
            throw new PloopFormatException(file, "bad signature \"" + printable(signature) + "\", expected \""
                    + FormatVersion.V2.signature() + "\" (v2) or \"" + FormatVersion.V1.signature() + "\" (v1)");
        }
        int type = b.getInt(16);
        int clusterSectors = b.getInt(28);
        int entries = b.getInt(32);
        long sizeInSectors = version == FormatVersion.V1 ? Integer.toUnsignedLong(b.getInt(36)) : b.getLong(36);
        int firstBlockOffset = b.getInt(48);
        PloopHeader header = new PloopHeader(version, type, b.getInt(20), b.getInt(24), clusterSectors, entries,
                sizeInSectors, b.getInt(44), firstBlockOffset, b.getInt(52), b.getLong(56));
        header.validate(file);
        return header;
    }

    private void validate(Path file) throws PloopFormatException {
        if (type != TYPE_COMPRESSED) {
            throw new PloopFormatException(file, "unknown image type " + Integer.toUnsignedString(type)
                    + " (m_Type), expected " + TYPE_COMPRESSED);
        }
        if (clusterSectors == 0) {
            throw new PloopFormatException(file, "cluster size is 0 (m_Sectors)");
        }
        long clusterBytes = Integer.toUnsignedLong(clusterSectors) * SECTOR;
        if (Long.bitCount(clusterBytes) != 1) {
            throw new PloopFormatException(file, "cluster size " + clusterBytes + " bytes (m_Sectors "
                    + Integer.toUnsignedString(clusterSectors) + ") is not a power of two");
        }
        if (clusterBytes < MIN_CLUSTER_BYTES || clusterBytes > MAX_CLUSTER_BYTES) {
            throw new PloopFormatException(file, "cluster size " + clusterBytes
                    + " bytes is outside ploop's range of 32 KiB to 64 MiB");
        }
        if (sizeInSectors <= 0 || sizeInSectors > Long.MAX_VALUE / SECTOR) {
            throw new PloopFormatException(file, "virtual size of " + Long.toUnsignedString(sizeInSectors)
                    + " sectors is not usable");
        }
        long expectedEntries = ceilDiv(sizeInSectors, clusterSectors);
        if (Integer.toUnsignedLong(batEntries) != expectedEntries) {
            throw new PloopFormatException(file, "BAT size " + Integer.toUnsignedString(batEntries)
                    + " entries (m_Size) does not match the virtual size of " + sizeInSectors + " sectors, which needs "
                    + expectedEntries + " clusters of " + clusterBytes + " bytes");
        }
        if (expectedEntries > MAX_BAT_ENTRIES) {
            throw new PloopFormatException(file, expectedEntries + " BAT entries are more than this implementation handles");
        }
        int needed = batClusters(batEntries, clusterBytes());
        if (firstBlockOffset <= 0 || firstBlockOffset % clusterSectors != 0) {
            throw new PloopFormatException(file, "first data block offset " + Integer.toUnsignedString(firstBlockOffset)
                    + " sectors (m_FirstBlockOffset) is not a positive multiple of the cluster size of "
                    + clusterSectors + " sectors");
        }
        if (firstBlockOffset / clusterSectors < needed) {
            throw new PloopFormatException(file, "first data block offset " + firstBlockOffset
                    + " sectors (m_FirstBlockOffset) lies inside the BAT, which needs " + needed + " clusters ("
                    + (long) needed * clusterSectors + " sectors)");
        }
    }

    /** The 64 bytes of this header as stored on disk. */
    public ByteBuffer encode() {
        ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0, version.signatureBytes());
        b.putInt(16, type);
        b.putInt(20, heads);
        b.putInt(24, cylinders);
        b.putInt(28, clusterSectors);
        b.putInt(32, batEntries);
        if (version == FormatVersion.V1) {
            b.putInt(36, (int) sizeInSectors);
            b.putInt(40, 0);
        } else {
            b.putLong(36, sizeInSectors);
        }
        b.putInt(44, diskInUse);
        b.putInt(48, firstBlockOffset);
        b.putInt(52, flags);
        b.putLong(56, formatExtensionOffset);
        return b;
    }

    public int clusterBytes() {
        return clusterSectors * SECTOR;
    }

    /** The virtual disk size in bytes. */
    public long sizeBytes() {
        return sizeInSectors * SECTOR;
    }

    /** Whether the in-use mark is set: the image is open read-write, or its last user crashed. */
    public boolean inUse() {
        return diskInUse == DISK_IN_USE;
    }

    /** Clusters before the first data cluster: the header and the BAT. */
    public int headerClusters() {
        return firstBlockOffset / clusterSectors;
    }

    /** This header as an open read-write image carries it: in use, no longer "empty", no extension block. */
    PloopHeader openedForWriting() {
        return new PloopHeader(version, type, heads, cylinders, clusterSectors, batEntries, sizeInSectors,
                DISK_IN_USE, firstBlockOffset, flags & ~FLAG_EMPTY, 0);
    }

    /** This header after a clean close (the v2.0 closed value 0). */
    PloopHeader closed() {
        return withDiskInUse(0);
    }

    PloopHeader withFlags(int value) {
        return new PloopHeader(version, type, heads, cylinders, clusterSectors, batEntries, sizeInSectors,
                diskInUse, firstBlockOffset, value, formatExtensionOffset);
    }

    PloopHeader withDiskInUse(int value) {
        return new PloopHeader(version, type, heads, cylinders, clusterSectors, batEntries, sizeInSectors,
                value, firstBlockOffset, flags, formatExtensionOffset);
    }

    /**
     * Heads and cylinders as ploop derives them from the size (ConvertToCHS): 16 heads of 63 sectors
     * for disks from 504 MiB to 8 GiB, else the first of 63/32/16/8 sectors and 16/8/4/2 heads
     * that divide the size, else pure LBA. Nothing reads them; they are there to match ploop.
     */
    static long[] geometry(long sectors) {
        if (sectors > 1_032_192 && sectors < 16_777_216) {
            return new long[] {16, sectors / (63 * 16)};
        }
        long perTrack = firstDivisor(sectors, 63, 32, 16, 8);
        if (perTrack > 0) {
            long tracks = sectors / perTrack;
            long heads = firstDivisor(tracks, 16, 8, 4, 2);
            if (heads > 0) {
                return new long[] {heads, tracks / heads};
            }
        }
        return new long[] {1, sectors};
    }

    private static long firstDivisor(long value, int... candidates) {
        for (int c : candidates) {
            if (value % c == 0) {
                return c;
            }
        }
        return 0;
    }

    static long ceilDiv(long value, long divisor) {
        return (value + divisor - 1) / divisor;
    }

    private static String printable(byte[] bytes) {
        StringBuilder s = new StringBuilder();
        for (byte c : bytes) {
            s.append(c >= 0x20 && c < 0x7f ? (char) c : '.');
        }
        return s.toString();
    }

    @Override
    public String toString() {
        return version + " header: " + sizeInSectors + " sectors in " + Integer.toUnsignedString(batEntries)
                + " clusters of " + clusterBytes() + " bytes, data from sector " + firstBlockOffset
                + (inUse() ? ", in use" : "") + (formatExtensionOffset != 0 ? ", extension at " + formatExtensionOffset : "");
    }
}
