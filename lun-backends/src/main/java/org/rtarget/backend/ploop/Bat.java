package org.rtarget.backend.ploop;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import org.rtarget.backend.posix.PosixException;
import org.rtarget.backend.posix.PosixFile;

/**
 * The block allocation table on disk: u32 slots after the header, slot i mapping virtual cluster i,
 * running through the header clusters. Raw values here; {@link FormatVersion} says what they count.
 */
final class Bat {

    static final ValueLayout.OfInt SLOT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Bat() {
    }

    /** Byte offset of the slot for virtual cluster {@code vc}. */
    static long slotOffset(long vc) {
        return (PloopHeader.MAP_OFFSET + vc) * Integer.BYTES;
    }

    /**
     * The slots of the BAT clusters the header needs for its entries: the entries, then the slack
     * that fills the last BAT cluster (which must be 0). Read a cluster at a time.
     */
    static int[] readSlots(PosixFile file, PloopHeader header) throws PosixException {
        int clusterBytes = header.clusterBytes();
        int clusters = PloopHeader.batClusters(header.batEntries(), clusterBytes);
        int slotsPerCluster = clusterBytes / Integer.BYTES;
        int[] slots = new int[clusters * slotsPerCluster - PloopHeader.MAP_OFFSET];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(clusterBytes);
            int slot = 0;
            for (int c = 0; c < clusters; c++) {
                file.readFully(buffer, (long) c * clusterBytes);
                for (int i = c == 0 ? PloopHeader.MAP_OFFSET : 0; i < slotsPerCluster; i++) {
                    slots[slot++] = buffer.getAtIndex(SLOT, i);
                }
            }
        }
        return slots;
    }

    /** Writes one raw slot (4 bytes: never torn). Durable only after the next fdatasync. */
    static void writeSlot(PosixFile file, long vc, int raw) throws PosixException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment value = arena.allocate(SLOT);
            value.set(SLOT, 0, raw);
            file.writeFully(value, slotOffset(vc));
        }
    }
}
