package org.rtarget.server.fuzz;

import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;
import net.jqwik.api.statistics.Statistics;
import org.rtarget.gate.StandbyGate;
import org.rtarget.server.scsi.ItNexus;
import org.rtarget.server.scsi.ItlNexus;
import org.rtarget.server.scsi.LogicalUnit;
import org.rtarget.server.scsi.LunIdentity;
import org.rtarget.server.scsi.ScsiCommand;
import org.rtarget.server.scsi.ScsiCore;
import org.rtarget.server.scsi.ScsiStatus;

/**
 * (d) The SCSI core on any 16-byte CDB: every opcode of the table (read off REPORT SUPPORTED
 * OPERATION CODES, so a new row is fuzzed without touching this test) and opcodes not in it, with
 * LBA and length fields set to the values around the capacity and the transfer limit, any EDTL and
 * data-out, in sequences on two initiators and a LUN without a unit (reservations and unit
 * attentions carry state from one command to the next). Every command must end with a SAM status,
 * CHECK CONDITION with well-formed fixed-format sense; no exception, no buffer bigger than one
 * transfer, no buffer left behind, no backend call out of range.
 */
class ScsiCdbFuzzTest {
    private static final Set<Integer> SAM_STATUSES = Set.of(ScsiStatus.GOOD, ScsiStatus.CHECK_CONDITION,
            ScsiStatus.CONDITION_MET, ScsiStatus.BUSY, ScsiStatus.RESERVATION_CONFLICT, ScsiStatus.TASK_SET_FULL,
            ScsiStatus.ACA_ACTIVE, ScsiStatus.TASK_ABORTED);
    private static final int LIMIT = LogicalUnit.MAX_TRANSFER_BYTES;
    private static final HexFormat HEX = HexFormat.of();
    private static Guards guards;
    /** The opcode table as REPORT SUPPORTED OPERATION CODES gives it: opcode, service action (or -1). */
    private static List<int[]> table;

    @BeforeContainer
    static void start() {
        guards = new Guards();
        table = readTable();
    }

    @AfterContainer
    static void stop() {
        try {
            guards.assertNoLeakReported("ScsiCdbFuzzTest");
        } finally {
            guards.close();
        }
    }

    /** A unit to fuzz: block size, capacity in blocks, read-only, thin. */
    record Unit(int blockSize, long blocks, boolean readOnly, boolean thin) {
    }

    /**
     * One command: which nexus sends it, the opcode (and service action, or -1), the raw CDB bytes, the
     * kinds of LBA and length to put in (capacity-relative, see {@link #symbolicLba}), a random word,
     * byte 1 (or -1 for zero), the EDTL (-1: the length the CDB names), the W bit.
     */
    record Cmd(int nexus, int[] op, byte[] raw, int lbaKind, int lenKind, long rnd, int flags, int edtl, boolean writeBit) {
        byte[] cdb(long capacity) {
            return buildCdb(op, raw, lbaKind, lenKind, rnd, flags, capacity);
        }

        @Override
        public String toString() {
            return "nexus " + nexus + " op " + Integer.toHexString(op[0]) + "/" + op[1] + " raw " + HEX.formatHex(raw)
                    + " lba#" + lbaKind + " len#" + lenKind + " rnd " + rnd + " flags " + flags + " edtl " + edtl
                    + (writeBit ? " W" : "");
        }
    }

    @Provide
    Arbitrary<Unit> units() {
        return Combinators.combine(Arbitraries.of(512, 4096), Arbitraries.frequency(Tuple.of(1, 1L), Tuple.of(1, 3L),
                        Tuple.of(3, 2048L), Tuple.of(3, 8192L), Tuple.of(2, 32768L)),
                Arbitraries.frequency(Tuple.of(4, false), Tuple.of(1, true)), Arbitraries.of(true, false)).as(Unit::new);
    }

    @Provide
    Arbitrary<List<Cmd>> commands() {
        Arbitrary<int[]> op = Arbitraries.frequencyOf(
                Tuple.of(9, Arbitraries.of(table)),
                Tuple.of(1, Arbitraries.integers().between(0, 255).map(o -> new int[] {o, -1})));
        Arbitrary<byte[]> raw = Arbitraries.frequencyOf(
                Tuple.of(1, Arbitraries.bytes().array(byte[].class).ofSize(16)),
                Tuple.of(2, Arbitraries.just(new byte[16])));
        // Kind 10 (LBA) and 11 (length) make a range inside the unit: the commands that reach the medium.
        Arbitrary<Integer> lbaKind = Arbitraries.frequencyOf(Tuple.of(3, Arbitraries.just(10)),
                Tuple.of(7, Arbitraries.integers().between(-1, 9)));
        Arbitrary<Integer> lenKind = Arbitraries.frequencyOf(Tuple.of(3, Arbitraries.just(11)),
                Tuple.of(7, Arbitraries.integers().between(-1, 10)));
        Arbitrary<Long> random = Arbitraries.longs();
        Arbitrary<Integer> edtl = Arbitraries.frequencyOf(
                Tuple.of(5, Arbitraries.just(-1)),
                Tuple.of(3, Arbitraries.of(0, 1, 8, 18, 23, 24, 25, 255, 511, 512, 4096, 65535, 65536,
                        LIMIT - 1, LIMIT, LIMIT + 1, 16 << 20, Integer.MAX_VALUE)),
                Tuple.of(2, Arbitraries.integers().between(0, 70000)));
        Arbitrary<Integer> flags = Arbitraries.frequencyOf(
                Tuple.of(3, Arbitraries.just(-1)), Tuple.of(1, Arbitraries.integers().between(0, 255)));
        Arbitrary<Integer> sender = Arbitraries.frequency(Tuple.of(9, 0), Tuple.of(9, 1), Tuple.of(2, 2));
        Arbitrary<Cmd> cmd = Combinators.combine(sender, op, raw, lbaKind, lenKind,
                random, edtl, flags).as((nexus, o, bytes, lk, nk, rnd, e, f) ->
                        new Cmd(nexus, o, bytes, lk, nk, rnd, f, e, (rnd & 7) != 7));
        return cmd.list().ofMinSize(1).ofMaxSize(10);
    }

    @Property
    void everyCdbEndsWithAStatusAndWellFormedSense(@ForAll("units") Unit unit, @ForAll("commands") List<Cmd> cmds)
            throws Exception {
        List<String> outcomes = guards.run(Duration.ofSeconds(60), () -> runSequence(unit, cmds));
        for (String o : outcomes) {
            Statistics.label("command outcome").collect(o);
        }
        guards.assertQuiet(unit + " " + cmds);
    }

    // ----- the CDB -----

    /** Bytes 1.. random, then the opcode (and service action), LBA, length and control byte as asked. */
    static byte[] buildCdb(int[] op, byte[] raw, int lbaKind, int lenKind, long rnd, int flags, long capacity) {
        byte[] cdb = raw.clone();
        int opcode = op[0];
        cdb[0] = (byte) opcode;
        int length = switch (opcode >>> 5) {
            case 0 -> 6;
            case 1, 2 -> 10;
            case 4 -> 16;
            case 5 -> 12;
            default -> 16;
        };
        if (flags >= 0) {
            cdb[1] = (byte) flags;
        } else {
            cdb[1] = 0;
        }
        if (op[1] >= 0 && (rnd & 0x70) != 0x70) {
            cdb[1] = (byte) ((cdb[1] & 0xE0) | op[1]);
        }
        if (lbaKind >= 0) {
            long lba = symbolicLba(lbaKind, rnd, capacity);
            switch (length) {
                case 6 -> {
                    cdb[1] = (byte) ((cdb[1] & 0xE0) | ((lba >>> 16) & 0x1F));
                    cdb[2] = (byte) (lba >>> 8);
                    cdb[3] = (byte) lba;
                }
                case 10, 12 -> Wire.put32(cdb, 2, (int) lba);
                default -> Wire.put64(cdb, 2, lba);
            }
        }
        if (lenKind >= 0) {
            long n = symbolicLength(lenKind, rnd);
            switch (length) {
                case 6 -> cdb[4] = (byte) n;
                case 10 -> {
                    cdb[7] = (byte) (n >>> 8);
                    cdb[8] = (byte) n;
                }
                case 12 -> Wire.put32(cdb, 6, (int) n);
                default -> Wire.put32(cdb, 10, (int) n);
            }
        }
        if ((rnd & 0x300) != 0) {
            cdb[length - 1] = 0; // a control byte without NACA, most of the time
        }
        return cdb;
    }

    /** LBAs around the capacity and the field widths. */
    private static long symbolicLba(int kind, long rnd, long capacity) {
        return switch (kind) {
            case 0 -> 0;
            case 1 -> 1;
            case 2 -> capacity - 1;
            case 3 -> capacity;
            case 4 -> capacity + 1;
            case 5 -> 0xFFFFFFFFL;
            case 6 -> Long.MAX_VALUE;
            case 7 -> -1L;
            case 8 -> capacity - 1 - (rnd >>> 40 & 7);
            case 10 -> Math.floorMod(rnd >>> 12, Math.max(1, capacity - 64));
            default -> (rnd >>> 12) & 0xFFFF;
        };
    }

    private static long symbolicLength(int kind, long rnd) {
        return switch (kind) {
            case 0 -> 0;
            case 1 -> 1;
            case 2 -> 2;
            case 3 -> 255;
            case 4 -> 256;
            case 5 -> 16384; // the 8 MiB limit in 512-byte blocks
            case 6 -> 16385;
            case 7 -> 65535;
            case 8 -> 0xFFFFFFFFL;
            case 9 -> 2048; // the 8 MiB limit in 4 KiB blocks
            case 11 -> 1 + ((rnd >>> 24) & 0x3F);
            default -> (rnd >>> 20) & 0x3FF;
        };
    }

    // ----- running commands -----

    /** Runs the commands; returns how each ended: status (sense key), and whether it reached the medium. */
    private static List<String> runSequence(Unit u, List<Cmd> cmds) {
        List<String> outcomes = new ArrayList<>();
        CheckingDevice device = new CheckingDevice(u.blocks() * u.blockSize(), u.blockSize(), u.thin());
        LogicalUnit lu = new LogicalUnit(LunIdentity.of("fuzz", device.kind()), device, new StandbyGate("fuzz"),
                u.readOnly(), true);
        List<ItlNexus> nexuses = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            ItlNexus n = new ItlNexus(new Initiator("iqn.2026-01.org.rtarget.fuzz:i" + i, 0x400000000000L + i), 0, lu);
            lu.attach(n);
            nexuses.add(n);
        }
        nexuses.add(new ItlNexus(new Initiator("iqn.2026-01.org.rtarget.fuzz:i0", 0x400000000000L), 7, null));
        CountingAllocator alloc = new CountingAllocator();
        for (Cmd cmd : cmds) {
            byte[] cdb = cmd.cdb(lu.capacityBlocks());
            String what = u + ", " + cmd + ": cdb " + HEX.formatHex(cdb);
            int edtl = cmd.edtl() >= 0 ? cmd.edtl() : namedLength(cdb, u.blockSize());
            long io = device.reads + device.writes + device.unmaps;
            FuzzCommand done = runOne(lu, nexuses.get(cmd.nexus()), cdb, cmd.writeBit() ? edtl : 0, cmd.rnd(), alloc, what);
            outcomes.add(ScsiStatus.name(done.status())
                    + (done.sense() == null ? "" : String.format(" %X/%02X", done.sense()[2] & 0x0F, done.sense()[12] & 0xFF))
                    + (device.reads + device.writes + device.unmaps > io ? ", medium I/O" : ""));
            if (!device.violations.isEmpty()) {
                throw new AssertionError(what + ": backend called out of range: " + device.violations);
            }
            if (!alloc.violations.isEmpty()) {
                throw new AssertionError(what + ": " + alloc.violations);
            }
            long used = Guards.used(alloc.delegate);
            if (used != 0) {
                throw new AssertionError(what + ": " + used + " bytes still allocated after the command (leak)");
            }
        }
        return outcomes;
    }

    /** The transfer length a CDB names, as an initiator would put it in EDTL (blocks for READ/WRITE forms). */
    private static int namedLength(byte[] cdb, int blockSize) {
        int opcode = cdb[0] & 0xFF;
        long n = switch (opcode >>> 5) {
            case 0 -> (cdb[4] & 0xFF) == 0 && (opcode == 0x08 || opcode == 0x0A) ? 256 : cdb[4] & 0xFF;
            case 1, 2 -> (cdb[7] & 0xFF) << 8 | (cdb[8] & 0xFF);
            case 5 -> Wire.u32(cdb, 6) & 0xFFFFFFFFL;
            default -> Wire.u32(cdb, 10) & 0xFFFFFFFFL;
        };
        boolean blocks = switch (opcode) {
            case 0x08, 0x0A, 0x28, 0x2A, 0x2E, 0x2F, 0x88, 0x8A, 0x8E, 0x8F, 0xA8, 0xAA, 0xAE, 0xAF -> true;
            default -> false;
        };
        long bytes = blocks ? n * blockSize : n;
        return (int) Math.min(bytes, Integer.MAX_VALUE);
    }

    private static FuzzCommand runOne(LogicalUnit lu, ItlNexus nexus, byte[] cdb, int expectedOut, long dataSeed,
                                      CountingAllocator alloc, String what) {
        FuzzCommand c = new FuzzCommand(alloc, Unpooled.wrappedBuffer(cdb), expectedOut, nexus);
        boolean accepted;
        try {
            accepted = ScsiCore.setup(c);
            if (accepted) {
                if (c.transferLength() < 0 || c.transferLength() > LIMIT) {
                    throw new AssertionError(what + ": setup asks for a transfer of " + c.transferLength() + " bytes");
                }
                if (c.direction() == ScsiCommand.Direction.OUT && c.transferLength() > expectedOut) {
                    throw new AssertionError(what + ": setup wants " + c.transferLength()
                            + " bytes of data-out, the initiator offers " + expectedOut);
                }
                if (c.direction() == ScsiCommand.Direction.OUT && c.transferLength() > 0) {
                    ByteBuf buf = alloc.directBuffer(c.transferLength(), c.transferLength());
                    buf.writeBytes(dataOut(cdb, c.transferLength(), dataSeed, lu));
                    c.setData(buf);
                }
                ScsiCore.execute(c);
                if (c.done != 1) {
                    throw new AssertionError(what + ": commandDone called " + c.done + " times");
                }
            } else if (c.done != 0) {
                throw new AssertionError(what + ": setup refused the command but it was completed " + c.done + " times");
            }
        } catch (AssertionError e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(what + ": threw " + t, t);
        }
        ByteBuf data = c.takeData();
        try {
            checkResult(c, data, what);
        } finally {
            Guards.release(data);
        }
        return c;
    }

    private static void checkResult(FuzzCommand c, ByteBuf data, String what) {
        int status = c.status();
        if (!SAM_STATUSES.contains(status)) {
            throw new AssertionError(what + ": status " + ScsiStatus.name(status) + " is not a SAM status");
        }
        byte[] sense = c.sense();
        if (status == ScsiStatus.CHECK_CONDITION) {
            if (sense == null) {
                throw new AssertionError(what + ": CHECK CONDITION without sense");
            }
            int responseCode = sense[0] & 0x7F;
            int key = sense[2] & 0x0F;
            if (sense.length < 18 || responseCode != 0x70 || (sense[7] & 0xFF) != sense.length - 8 || key == 0
                    || (sense[2] & 0xF0) != 0 || (sense[12] == 0 && sense[13] == 0 && key != 0x0E)) {
                throw new AssertionError(what + ": malformed fixed-format sense " + HEX.formatHex(sense));
            }
        } else if (sense != null) {
            throw new AssertionError(what + ": sense with status " + ScsiStatus.name(status));
        }
        if (data != null) {
            if (status != ScsiStatus.GOOD) {
                throw new AssertionError(what + ": data kept with status " + ScsiStatus.name(status));
            }
            if (c.direction() == ScsiCommand.Direction.IN && data.readableBytes() > c.transferLength()) {
                throw new AssertionError(what + ": " + data.readableBytes() + " bytes of data-in for an allocation of "
                        + c.transferLength());
            }
            if (c.direction() == ScsiCommand.Direction.OUT) {
                throw new AssertionError(what + ": data-out handed back to the transport");
            }
            ByteBufUtil.getBytes(data); // readable end to end
        }
    }

    /** Data-out: parameter lists with a shape (UNMAP, MODE SELECT, PERSISTENT RESERVE OUT) or random bytes. */
    private static byte[] dataOut(byte[] cdb, int length, long seed, LogicalUnit lu) {
        Random r = new Random(seed);
        byte[] b = new byte[length];
        int opcode = cdb[0] & 0xFF;
        int style = r.nextInt(4);
        if (style == 0) {
            r.nextBytes(b);
            return b;
        }
        if (style == 1) {
            return b; // zeros: WRITE SAME's unmap path, empty lists
        }
        switch (opcode) {
            case 0x42 -> { // UNMAP: header, then descriptors near the end of the unit and the limits
                int count = Math.max(0, (length - 8) / 16);
                if (length >= 8) {
                    Wire.put24(b, 0, 0);
                    b[0] = (byte) ((length - 2) >>> 8);
                    b[1] = (byte) (length - 2);
                    int descBytes = r.nextBoolean() ? count * 16 : r.nextInt(65536);
                    b[2] = (byte) (descBytes >>> 8);
                    b[3] = (byte) descBytes;
                }
                long cap = lu.capacityBlocks();
                long[] lbas = {0, 1, cap - 1, cap, cap + 1, -1, Long.MAX_VALUE, cap / 2};
                long[] counts = {0, 1, 2, cap, cap + 1, 1 << 20, (1 << 20) + 1, 0xFFFFFFFFL};
                for (int i = 0; i < count; i++) {
                    Wire.put64(b, 8 + 16 * i, lbas[r.nextInt(lbas.length)]);
                    Wire.put32(b, 16 + 16 * i, (int) counts[r.nextInt(counts.length)]);
                }
            }
            case 0x15, 0x55 -> { // MODE SELECT: header, maybe a block descriptor, the caching page (WCE flipped) or junk
                int header = opcode == 0x55 ? 8 : 4;
                int at = header;
                if (r.nextBoolean() && length >= header + 8) {
                    if (opcode == 0x55) {
                        b[7] = 8;
                    } else {
                        b[3] = 8;
                    }
                    at += 8;
                }
                int[] pages = {0x08, 0x0A, 0x1C, 0x3F, 0x48, r.nextInt(256)};
                while (at + 2 <= length) {
                    int page = pages[r.nextInt(pages.length)];
                    int len = r.nextInt(3) == 0 ? r.nextInt(256) : (page & 0x3F) == 0x08 ? 0x12 : 0x0A;
                    b[at] = (byte) page;
                    b[at + 1] = (byte) len;
                    if (at + 2 < length && r.nextBoolean()) {
                        b[at + 2] = (byte) (r.nextBoolean() ? 0x04 : r.nextInt(256));
                    }
                    at += 2 + len;
                }
            }
            case 0x5F -> { // PERSISTENT RESERVE OUT: keys from a small pool so that they meet
                long[] keys = {0, 1, 2, 0x1234, -1};
                if (length >= 24) {
                    Wire.put64(b, 0, keys[r.nextInt(keys.length)]);
                    Wire.put64(b, 8, keys[r.nextInt(keys.length)]);
                    b[20] = (byte) (r.nextBoolean() ? 0 : 1 << r.nextInt(8));
                }
            }
            default -> r.nextBytes(b);
        }
        return b;
    }

    // ----- the opcode table -----

    /** REPORT SUPPORTED OPERATION CODES, all commands, on a scratch unit: the table as the core sees it. */
    private static List<int[]> readTable() {
        CheckingDevice device = new CheckingDevice(1 << 20, 512, true);
        LogicalUnit lu = new LogicalUnit(LunIdentity.of("table", device.kind()), device, new StandbyGate("table"),
                false, true);
        ItlNexus nexus = new ItlNexus(new Initiator("iqn.2026-01.org.rtarget.fuzz:table", 1), 0, lu);
        lu.attach(nexus);
        byte[] cdb = {(byte) 0xA3, 0x0C, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};
        FuzzCommand c = new FuzzCommand(new CountingAllocator(), Unpooled.wrappedBuffer(cdb), 0, nexus);
        if (!ScsiCore.setup(c)) {
            throw new IllegalStateException("REPORT SUPPORTED OPERATION CODES refused: " + HEX.formatHex(c.sense()));
        }
        ScsiCore.execute(c);
        ByteBuf data = c.takeData();
        List<int[]> rows = new ArrayList<>();
        try {
            int length = data.getInt(0);
            for (int at = 4; at < 4 + length; ) {
                int opcode = data.getUnsignedByte(at);
                int sa = data.getUnsignedShort(at + 2);
                boolean servactv = (data.getByte(at + 5) & 0x01) != 0;
                boolean ctdp = (data.getByte(at + 5) & 0x02) != 0;
                rows.add(new int[] {opcode, servactv ? sa : -1});
                at += 8 + (ctdp ? 12 : 0);
            }
        } finally {
            data.release();
        }
        if (rows.size() < 30) {
            throw new IllegalStateException("only " + rows.size() + " commands in the table");
        }
        return List.copyOf(rows);
    }

    // ----- the transport stand-ins -----

    record Initiator(String initiatorName, long isid) implements ItNexus {
        @Override
        public String targetName() {
            return "iqn.2026-01.org.rtarget.fuzz:target";
        }

        @Override
        public String initiatorPortName() {
            return String.format("%s,i,0x%012x", initiatorName, isid);
        }

        @Override
        public int relativeTargetPort() {
            return 1;
        }

        @Override
        public int[] reportedLuns() {
            return new int[] {0};
        }
    }

    /** A command as the iSCSI task sets it up (EDTL of a W command as the data-out offered). */
    static final class FuzzCommand extends ScsiCommand {
        private final ByteBufAllocator alloc;
        int done;

        FuzzCommand(ByteBufAllocator alloc, ByteBuf cdbBytes, int expectedOut, ItlNexus nexus) {
            this.alloc = alloc;
            this.cdb = cdbBytes;
            this.expectedLength = expectedOut;
            this.itl = nexus;
        }

        @Override
        protected ByteBufAllocator alloc() {
            return alloc;
        }

        @Override
        protected int outstandingCommands() {
            return 1;
        }

        @Override
        protected void commandDone() {
            done++;
        }
    }

    /** Allocates through an unpooled allocator that keeps count, refusing (recording) any buffer over the limit. */
    static final class CountingAllocator extends AbstractByteBufAllocator {
        final UnpooledByteBufAllocator delegate = Guards.countingAllocator();
        final List<String> violations = new ArrayList<>();

        CountingAllocator() {
            super(true);
        }

        private void check(int initialCapacity) {
            if (initialCapacity > LIMIT) {
                violations.add("allocation of " + initialCapacity + " bytes, more than one transfer (" + LIMIT + ")");
            }
        }

        @Override
        protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
            check(initialCapacity);
            return delegate.heapBuffer(initialCapacity, maxCapacity);
        }

        @Override
        protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
            check(initialCapacity);
            return delegate.directBuffer(initialCapacity, maxCapacity);
        }

        @Override
        public boolean isDirectBufferPooled() {
            return false;
        }
    }
}
