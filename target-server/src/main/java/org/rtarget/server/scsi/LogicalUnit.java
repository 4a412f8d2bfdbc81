package org.rtarget.server.scsi;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.rtarget.backend.BlockDevice;
import org.rtarget.gate.StandbyGate;

/**
 * A SCSI direct-access logical unit: a block device behind its standby gate, with the state SPC and
 * SBC give a disk (write cache enable, the I_T_L nexuses that see it and their unit attentions, its
 * reservations).
 */
public final class LogicalUnit {
    /** Largest transfer one command may ask for (reported in the Block Limits VPD page). */
    public static final int MAX_TRANSFER_BYTES = 8 << 20;

    private final LunIdentity identity;
    /** Replaced as a whole when a reload rebuilds the LUN under the same identity. */
    private volatile BlockDevice device;
    private final StandbyGate gate;
    private volatile boolean readOnly;
    private final int blockSize;
    private final int blockShift;
    private volatile boolean writeCacheEnabled;
    /** The configured write cache setting: what MODE SENSE reports as the default. */
    private volatile boolean writeCacheDefault;
    /** Per initiator port: writeback errors it has yet to hear of (see {@link WritebackState}). */
    private final ConcurrentHashMap<String, WritebackState> writeback = new ConcurrentHashMap<>();
    private final Set<ItlNexus> nexuses = ConcurrentHashMap.newKeySet();
    /** Initiator ports whose nexus was lost; bounded so that port churn cannot grow it forever. */
    private final ConcurrentHashMap<String, Boolean> lostPorts = new ConcurrentHashMap<>();
    private static final int MAX_REMEMBERED_PORTS = 4096;
    private final LunCounters counters = new LunCounters();
    private final Reservations reservations = new Reservations(this);

    public LogicalUnit(LunIdentity identity, BlockDevice device, StandbyGate gate, boolean readOnly,
                       boolean writeCacheEnabled) {
        this.identity = identity;
        this.device = device;
        this.gate = gate;
        this.readOnly = readOnly;
        this.writeCacheEnabled = writeCacheEnabled;
        this.writeCacheDefault = writeCacheEnabled;
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

    /**
     * Serves the LUN from a new device from now on (a reload rebuilt its backend: the vz9 way of
     * replacing a ploop, a new instance under the same identity). Commands already at the old
     * device finish there; the caller closes it once they are done. Returns the old device.
     */
    public BlockDevice replaceDevice(BlockDevice newDevice) {
        if (newDevice.blockSize() != blockSize) {
            throw new IllegalArgumentException("the block size of LUN " + name() + " cannot change under an initiator");
        }
        BlockDevice old = device;
        device = newDevice;
        return old;
    }

    public StandbyGate gate() {
        return gate;
    }

    public boolean readOnly() {
        return readOnly;
    }

    /** Thin: the backend releases unmapped blocks (LBPME). */
    public boolean thinProvisioned() {
        return device.thinProvisioned() && !readOnly;
    }

    /** A thin unit whose unmapped blocks read as zeros (LBPRZ): WRITE SAME of zeros may unmap. */
    public boolean unmapReadsZeros() {
        return thinProvisioned() && device.unmapReadsZeros();
    }

    /**
     * Whether this unit reports ALUA (TPGS in INQUIRY). Not yet: until it does, it must not answer
     * with ALUA states such as "target port in standby" (04h/0Bh).
     */
    public boolean reportsAlua() {
        return false;
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

    /** The configured write cache setting (MODE SENSE's default values). */
    boolean writeCacheDefault() {
        return writeCacheDefault;
    }

    /**
     * A reload changed write-cache or read-only: the mode data every initiator sees changed, so
     * they all get MODE PARAMETERS CHANGED.
     */
    public void modeSettings(boolean newReadOnly, boolean newWriteCache) {
        if (newReadOnly == readOnly && newWriteCache == writeCacheEnabled) {
            return;
        }
        this.readOnly = newReadOnly;
        this.writeCacheEnabled = newWriteCache;
        this.writeCacheDefault = newWriteCache;
        postUnitAttention(SenseCode.MODE_PARAMETERS_CHANGED, null);
    }

    public LunCounters counters() {
        return counters;
    }

    /**
     * An initiator port starts seeing this unit. A new nexus starts without unit attentions (as LIO
     * does: some initiators, jSCSI among them, cannot take one on their first command); a port whose
     * previous nexus was lost without a logout is told so with I_T NEXUS LOSS OCCURRED (SPC-4 5.14).
     */
    public void attach(ItlNexus nexus) {
        String port = nexus.initiatorPort();
        boolean lost = lostPorts.remove(port) != null;
        // A session being reinstated is still attached here (it closes later, on its own event
        // loop): its nexus is lost now, and it must not be remembered as lost once more later.
        for (ItlNexus old : nexuses) {
            if (old.initiatorPort().equals(port)) {
                old.markReplaced();
                lost = true;
            }
        }
        // The port's writeback bookkeeping outlives its sessions: a reinstated session still hears of
        // an error that concerns what the old one wrote.
        if (writeback.size() < MAX_REMEMBERED_PORTS || writeback.containsKey(port)) {
            nexus.writeback(writeback.computeIfAbsent(port, p -> new WritebackState()));
        }
        nexuses.add(nexus);
        if (lost) {
            nexus.postUnitAttention(SenseCode.IT_NEXUS_LOSS);
        }
    }

    /** An initiator port stops seeing this unit; {@code lost} if its session ended without a logout. */
    public void detach(ItlNexus nexus, boolean lost) {
        nexuses.remove(nexus);
        nexus.markDetached();
        String port = nexus.initiatorPort();
        if (!nexus.writeback().dirty() && nexuses.stream().noneMatch(n -> n.initiatorPort().equals(port))) {
            writeback.remove(port, nexus.writeback()); // nothing owed to it: forget the port
        }
        reservations.nexusGone(nexus); // an SPC-2 reservation ends with its nexus; registrations stay
        if (lost && !nexus.replaced() && lostPorts.size() < MAX_REMEMBERED_PORTS) {
            lostPorts.put(nexus.initiatorPort(), Boolean.TRUE);
        }
    }

    /**
     * A LUN RESET (or target reset) reached this unit, sent by {@code issuer} (null for a target
     * reset): SPC-2 reservations are released, whoever holds them; persistent reservations survive
     * a reset, as SPC-4 says. The caller aborts the tasks and posts the unit attentions.
     */
    public void reset(ItlNexus issuer) {
        reservations.reset();
    }

    Reservations reservations() {
        return reservations;
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

    /** Queues a unit attention for the nexuses of one initiator port (a persistent reservation registrant). */
    void postUnitAttentionToPort(SenseCode code, String initiatorPort) {
        for (ItlNexus n : nexuses) {
            if (n.initiatorPort().equals(initiatorPort)) {
                n.postUnitAttention(code);
            }
        }
    }

    private volatile io.micrometer.core.instrument.Timer readTimer;
    private volatile io.micrometer.core.instrument.Timer writeTimer;
    private final java.util.List<io.micrometer.core.instrument.Meter> meters = new java.util.ArrayList<>();

    /**
     * Publishes the unit's counters and command latency histograms (per LUN name) in {@code registry};
     * {@link #unpublish} takes them out again when the LUN goes.
     */
    public void publish(io.micrometer.core.instrument.MeterRegistry registry) {
        var tags = io.micrometer.core.instrument.Tags.of("lun", name());
        meters.add(io.micrometer.core.instrument.FunctionCounter.builder("rtarget.lun.commands", counters,
                c -> c.readCommands.sum()).tags(tags).tag("op", "read").description("read commands").register(registry));
        meters.add(io.micrometer.core.instrument.FunctionCounter.builder("rtarget.lun.commands", counters,
                c -> c.writeCommands.sum()).tags(tags).tag("op", "write").description("write commands").register(registry));
        meters.add(io.micrometer.core.instrument.FunctionCounter.builder("rtarget.lun.bytes", counters,
                c -> c.bytesRead.sum()).tags(tags).tag("op", "read").baseUnit("bytes").description("bytes moved")
                .register(registry));
        meters.add(io.micrometer.core.instrument.FunctionCounter.builder("rtarget.lun.bytes", counters,
                c -> c.bytesWritten.sum()).tags(tags).tag("op", "write").baseUnit("bytes").description("bytes moved")
                .register(registry));
        meters.add(io.micrometer.core.instrument.FunctionCounter.builder("rtarget.lun.errors", counters,
                c -> c.errors.sum()).tags(tags).description("commands failed by the backend").register(registry));
        readTimer = latency(registry, tags, "read");
        writeTimer = latency(registry, tags, "write");
        meters.add(readTimer);
        meters.add(writeTimer);
    }

    private static io.micrometer.core.instrument.Timer latency(io.micrometer.core.instrument.MeterRegistry registry,
                                                               io.micrometer.core.instrument.Tags tags, String op) {
        return io.micrometer.core.instrument.Timer.builder("rtarget.lun.command.duration").tags(tags).tag("op", op)
                .description("time from a command's arrival to its completion")
                .publishPercentileHistogram()
                .minimumExpectedValue(java.time.Duration.ofNanos(10_000))
                .maximumExpectedValue(java.time.Duration.ofSeconds(30))
                .register(registry);
    }

    public void unpublish(io.micrometer.core.instrument.MeterRegistry registry) {
        readTimer = null;
        writeTimer = null;
        meters.forEach(registry::remove);
        meters.clear();
    }

    /** Records a finished read or write command's latency (one histogram update). */
    void recordLatency(boolean read, long nanos) {
        io.micrometer.core.instrument.Timer t = read ? readTimer : writeTimer;
        if (t != null) {
            t.record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
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
