package org.rtarget.server.scsi;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.rtarget.backend.BlockDevice;
import org.rtarget.gate.StandbyGate;

/**
 * A SCSI direct-access logical unit: a block device behind its standby gate, with the state SPC and
 * SBC give a disk (write cache enable, the I_T_L nexuses that see it and their unit attentions).
 */
public final class LogicalUnit {
    /** Largest transfer one command may ask for (reported in the Block Limits VPD page). */
    public static final int MAX_TRANSFER_BYTES = 8 << 20;

    private final LunIdentity identity;
    private final BlockDevice device;
    private final StandbyGate gate;
    private final boolean readOnly;
    private final int blockSize;
    private final int blockShift;
    private volatile boolean writeCacheEnabled;
    private final Set<ItlNexus> nexuses = ConcurrentHashMap.newKeySet();
    private final LunCounters counters = new LunCounters();

    public LogicalUnit(LunIdentity identity, BlockDevice device, StandbyGate gate, boolean readOnly,
                       boolean writeCacheEnabled) {
        this.identity = identity;
        this.device = device;
        this.gate = gate;
        this.readOnly = readOnly;
        this.writeCacheEnabled = writeCacheEnabled;
        this.blockSize = device.blockSize();
        if (Integer.bitCount(blockSize) != 1) {
            throw new IllegalArgumentException("block size must be a power of two: " + blockSize);
        }
        this.blockShift = Integer.numberOfTrailingZeros(blockSize);
    }

    public LunIdentity identity() {
        return identity;
    }

    public String name() {
        return identity.name();
    }

    public BlockDevice device() {
        return device;
    }

    public StandbyGate gate() {
        return gate;
    }

    public boolean readOnly() {
        return readOnly;
    }

    public int blockSize() {
        return blockSize;
    }

    int blockShift() {
        return blockShift;
    }

    /** Capacity in logical blocks (read each time: a device may grow). */
    public long capacityBlocks() {
        return device.size() >>> blockShift;
    }

    public boolean writeCacheEnabled() {
        return writeCacheEnabled;
    }

    void setWriteCacheEnabled(boolean enabled) {
        this.writeCacheEnabled = enabled;
    }

    public LunCounters counters() {
        return counters;
    }

    /** A new initiator sees this unit: it gets a power-on unit attention, as a new nexus should. */
    public void attach(ItlNexus nexus) {
        nexuses.add(nexus);
        nexus.postUnitAttention(SenseCode.POWER_ON_RESET);
    }

    public void detach(ItlNexus nexus) {
        nexuses.remove(nexus);
        nexus.markDetached();
    }

    /** The number of I_T_L nexuses attached (sessions that see this unit). */
    public int nexusCount() {
        return nexuses.size();
    }

    /** Queues a unit attention for every initiator except {@code except} (may be null). */
    public void postUnitAttention(SenseCode code, ItlNexus except) {
        for (ItlNexus n : nexuses) {
            if (n != except) {
                n.postUnitAttention(code);
            }
        }
    }

    /** Simple per-LUN counters, cheap enough for the I/O path (metrics read them). */
    public static final class LunCounters {
        public final LongAdder readCommands = new LongAdder();
        public final LongAdder writeCommands = new LongAdder();
        public final LongAdder bytesRead = new LongAdder();
        public final LongAdder bytesWritten = new LongAdder();
        public final LongAdder errors = new LongAdder();
    }
}
