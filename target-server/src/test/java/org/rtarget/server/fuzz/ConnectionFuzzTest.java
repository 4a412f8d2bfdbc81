package org.rtarget.server.fuzz;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.ShrinkingMode;
import net.jqwik.api.statistics.Statistics;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * (b) A whole connection on the server's pipeline, fed random and mutated PDU sequences: during
 * login (seed PDUs of every kind, mutated, and junk) and after a successful login with randomly
 * negotiated parameters (structured commands, Data-Out answering the target's R2Ts or not, task
 * management, text, NOP, logout, bursts of immediate commands, seed PDUs mutated in place, a
 * second connection that reinstates the session or resets LUNs under its commands). The
 * handler must never let an exception out of the pipeline nor log an internal error, never leak a
 * buffer (counted exactly per try, and Netty's paranoid leak detector), never hold more than its
 * command window's worth of memory, and always answer or close (a NOP-Out at the end, and a logout
 * once no command holds it back): see {@link FuzzConnection}.
 */
class ConnectionFuzzTest {
    private static Guards guards;

    @BeforeContainer
    static void start() {
        guards = new Guards();
        Wire.seeds();
    }

    @AfterContainer
    static void stop() {
        try {
            guards.assertNoLeakReported("ConnectionFuzzTest");
        } finally {
            guards.close();
        }
    }

    @Property(shrinking = ShrinkingMode.OFF)
    void randomAndMutatedPdusDuringLogin(@ForAll long seed) throws Exception {
        guards.run(Duration.ofSeconds(60), () -> {
            FuzzConnection c = new FuzzConnection(new FuzzTarget());
            try {
                duringLogin(new Random(seed), c.describe(seed));
                return null;
            } finally {
                c.abort();
            }
        });
        guards.assertQuiet("seed " + seed);
    }

    private static void duringLogin(Random r, FuzzConnection c) {
        List<Wire.Seed> corpus = Wire.seeds();
        List<Wire.Seed> logins = Wire.seeds(0x03);
        List<byte[]> sent = new ArrayList<>();
        int n = 1 + r.nextInt(6);
        for (int i = 0; i < n && c.open(); i++) {
            int kind = r.nextInt(10);
            Wire.Seed s = kind < 6 ? logins.get(r.nextInt(logins.size())) : corpus.get(r.nextInt(corpus.size()));
            byte[] header = s.header().clone();
            byte[] data = s.data();
            if (s.opcode() == 0x03 && r.nextBoolean()) {
                data = retarget(data); // a target this server has, so the login gets somewhere
            }
            byte[] frame;
            if (kind == 9) {
                frame = Mutator.mutate(r, Wire.frame(header, data, c.hd, c.dd), sent);
                c.aligned = false;
            } else if (r.nextBoolean()) {
                frame = Wire.frame(mutateLogical(r, header), mutateData(r, data), c.hd, c.dd);
            } else {
                frame = Wire.frame(header, data, c.hd, c.dd);
            }
            sent.add(frame);
            c.send(s.name(), frame);
        }
        c.finish(true);
    }

    @Property(shrinking = ShrinkingMode.OFF)
    void randomPduSequencesAfterLogin(@ForAll long seed) throws Exception {
        String outcome = guards.run(Duration.ofSeconds(60), () -> {
            FuzzConnection c = new FuzzConnection(new FuzzTarget());
            try {
                return afterLogin(new Random(seed), c.describe(seed));
            } finally {
                c.abort();
            }
        });
        Statistics.label("connection after the sequence").collect(outcome);
        guards.assertQuiet("seed " + seed);
    }

    private static String afterLogin(Random r, FuzzConnection c) {
        List<String> keys = loginKeys(r);
        if (!c.login(keys)) {
            throw c.fail("the login with " + keys + " failed", null);
        }
        boolean discovery = keys.contains("SessionType=Discovery");
        Session s = new Session(r, c, keys);
        int n = 1 + r.nextInt(30);
        for (int i = 0; i < n && c.open(); i++) {
            s.step(discovery);
        }
        boolean open = c.open();
        long good = c.received.stream().filter(p -> p.opcode() == 0x21 && p.bhs()[3] == 0
                || p.opcode() == 0x25 && (p.flags() & 0x01) != 0 && p.bhs()[3] == 0).count();
        c.finish(true);
        return (open ? "open" : "closed") + (good == 0 ? ", no GOOD" : good < 5 ? ", 1-4 GOOD" : ", 5+ GOOD");
    }

    // ----- login -----

    private static final String[] BURSTS = {"512", "4096", "8192", "65536", "262144", "1048576", "16776192"};

    /** A login that succeeds, with random operational values. */
    static List<String> loginKeys(Random r) {
        List<String> keys = new ArrayList<>();
        keys.add("InitiatorName=iqn.2026-01.org.rtarget.fuzz:initiator");
        if (r.nextInt(10) == 0) {
            keys.add("SessionType=Discovery");
        } else {
            keys.add("TargetName=" + FuzzTarget.IQN);
            keys.add("SessionType=Normal");
        }
        String[] digests = {"None", "CRC32C", "CRC32C,None", "None,CRC32C"};
        keys.add("HeaderDigest=" + digests[r.nextInt(4)]);
        keys.add("DataDigest=" + digests[r.nextInt(4)]);
        keys.add("InitialR2T=" + (r.nextBoolean() ? "Yes" : "No"));
        keys.add("ImmediateData=" + (r.nextInt(4) != 0 ? "Yes" : "No"));
        keys.add("MaxBurstLength=" + BURSTS[r.nextInt(BURSTS.length)]);
        keys.add("FirstBurstLength=" + BURSTS[r.nextInt(BURSTS.length)]);
        keys.add("MaxOutstandingR2T=" + (1 + r.nextInt(4)));
        keys.add("MaxRecvDataSegmentLength=" + new int[] {512, 1024, 8192, 65536, 262144}[r.nextInt(5)]);
        keys.add("ErrorRecoveryLevel=0");
        return keys;
    }

    /** The seed's TargetName replaced by one of ours. */
    static byte[] retarget(byte[] text) {
        List<String> pairs = new ArrayList<>(Wire.pairs(text));
        pairs.replaceAll(p -> p.startsWith("TargetName=") ? "TargetName=" + FuzzTarget.IQN : p);
        return Wire.text(pairs);
    }

    /** Mutations that keep the framing: header bytes other than the length fields. */
    static byte[] mutateLogical(Random r, byte[] header) {
        byte[] h = header.clone();
        int n = 1 + r.nextInt(3);
        for (int i = 0; i < n; i++) {
            int at;
            do {
                at = r.nextInt(h.length);
            } while (at >= 4 && at <= 7);
            switch (r.nextInt(4)) {
                case 0 -> h[at] ^= (byte) (1 << r.nextInt(8));
                case 1 -> h[at] = (byte) Mutator.INTERESTING_BYTES[r.nextInt(Mutator.INTERESTING_BYTES.length)];
                case 2 -> {
                    int word = 8 + 4 * r.nextInt(10);
                    Wire.put32(h, word, Mutator.interestingInt(r));
                }
                default -> h[at] = (byte) r.nextInt(256);
            }
        }
        return h;
    }

    static byte[] mutateData(Random r, byte[] data) {
        if (data.length == 0 || r.nextInt(3) == 0) {
            return r.nextInt(4) == 0 ? Mutator.randomBytes(r, r.nextInt(300)) : data;
        }
        byte[] d = Mutator.mutate(r, data, List.of());
        return d.length > 8192 ? java.util.Arrays.copyOf(d, 8192) : d;
    }

    // ----- full feature phase -----

    /** The fuzzer's side of a logged-in session: what to send next, knowing what the target said. */
    static final class Session {
        private final Random r;
        private final FuzzConnection c;
        private final boolean immediateData;
        private final int firstBurst;
        private final List<Integer> itts = new ArrayList<>();
        private final List<int[]> writes = new ArrayList<>(); // itt, edtl, immediate length, lun
        private int textTtt = -1;
        private int nopTtt = -1;
        private final List<byte[]> sent = new ArrayList<>();

        Session(Random r, FuzzConnection c, List<String> keys) {
            this.r = r;
            this.c = c;
            this.immediateData = "Yes".equals(c.negotiated.get("ImmediateData"));
            String fb = c.negotiated.get("FirstBurstLength");
            this.firstBurst = fb == null ? 65536 : Integer.parseInt(fb);
        }

        void step(boolean discovery) {
            int k = r.nextInt(100);
            if (k < 30) {
                scsiCommand(false);
            } else if (k < 45) {
                dataOut();
            } else if (k < 51) {
                nopOut();
            } else if (k < 57) {
                taskManagement();
            } else if (k < 63) {
                text();
            } else if (k < 65) {
                logout();
            } else if (k < 80) {
                seed();
            } else if (k < 84) {
                burst();
            } else if (k < 88) {
                other();
            } else if (k < 90) {
                junk();
            } else if (k < 93) {
                secondConnection();
            } else {
                scsiCommand(true);
            }
            scanTarget();
        }

        private void scanTarget() {
            for (FuzzConnection.In p : c.received) {
                if (p.opcode() == 0x24 && p.word(20) != -1) {
                    textTtt = p.word(20);
                }
                if (p.opcode() == 0x20 && p.itt() == -1) {
                    nopTtt = p.word(20);
                }
            }
        }

        private int pickItt() {
            if (!itts.isEmpty() && r.nextInt(5) == 0) {
                return itts.get(r.nextInt(itts.size()));
            }
            if (r.nextInt(50) == 0) {
                return -1;
            }
            int itt = c.itt();
            itts.add(itt);
            return itt;
        }

        private int pickCmdSn(boolean immediate) {
            int k = r.nextInt(20);
            if (k < 16) {
                return immediate ? c.cmdSn : c.cmdSn++;
            }
            return k < 18 ? c.cmdSn + r.nextInt(20) - 10 : Mutator.interestingInt(r);
        }

        private long pickLun() {
            return switch (r.nextInt(10)) {
                case 0, 1 -> 1L << 48;
                case 2 -> 5L << 48;
                case 3 -> r.nextLong();
                case 4 -> (0x40L | 0x01) << 56; // flat space LUN 256
                default -> 0;
            };
        }

        void scsiCommand(boolean fromSeed) {
            boolean immediate = r.nextInt(5) == 0;
            byte[] cdb = new byte[16];
            int edtl;
            boolean read = false;
            boolean write = false;
            long lun = pickLun();
            int blockSize = lun == 1L << 48 ? 4096 : 512;
            int kind = fromSeed ? 9 : r.nextInt(10);
            switch (kind) {
                case 0, 1, 2 -> { // READ/WRITE(10), mostly in range
                    write = r.nextBoolean();
                    read = !write;
                    cdb[0] = (byte) (write ? 0x2A : 0x28);
                    int lba = r.nextInt(8) == 0 ? Mutator.interestingInt(r) : r.nextInt(64);
                    int blocks = r.nextInt(8) == 0 ? new int[] {0, 2048, 16384, 16385, 65535}[r.nextInt(5)] : r.nextInt(33);
                    Wire.put32(cdb, 2, lba);
                    cdb[7] = (byte) (blocks >>> 8);
                    cdb[8] = (byte) blocks;
                    edtl = blocks * blockSize;
                }
                case 3 -> { // READ/WRITE(16)
                    write = r.nextBoolean();
                    read = !write;
                    cdb[0] = (byte) (write ? 0x8A : 0x88);
                    Wire.put64(cdb, 2, r.nextInt(4) == 0 ? r.nextLong() : r.nextInt(100));
                    int blocks = r.nextInt(4) == 0 ? Mutator.interestingInt(r) : r.nextInt(17);
                    Wire.put32(cdb, 10, blocks);
                    edtl = (int) Math.min(Integer.MAX_VALUE, (blocks & 0xFFFFFFFFL) * blockSize);
                }
                case 4 -> { // parameter lists: UNMAP, MODE SELECT(10), PERSISTENT RESERVE OUT
                    write = true;
                    int[] ops = {0x42, 0x55, 0x5F};
                    cdb[0] = (byte) ops[r.nextInt(3)];
                    int len = r.nextInt(4) == 0 ? r.nextInt(65536) : 24 + 16 * r.nextInt(4);
                    if (cdb[0] == 0x5F) {
                        Wire.put32(cdb, 5, len);
                        cdb[1] = (byte) r.nextInt(8);
                    } else {
                        cdb[7] = (byte) (len >>> 8);
                        cdb[8] = (byte) len;
                    }
                    edtl = len;
                }
                case 5 -> { // data-in commands with allocation lengths
                    read = true;
                    int[][] ops = {{0x12, 3}, {0xA0, 6}, {0x1A, 4}, {0x5A, 7}, {0x9E, 10}, {0xA3, 6}, {0x5E, 7}, {0x03, 4}};
                    int[] op = ops[r.nextInt(ops.length)];
                    cdb[0] = (byte) op[0];
                    if (op[0] == 0x9E) {
                        cdb[1] = 0x10;
                    } else if (op[0] == 0xA3) {
                        cdb[1] = 0x0C;
                    }
                    if (op[0] == 0x12 && r.nextBoolean()) {
                        cdb[1] = 1;
                        cdb[2] = (byte) new int[] {0x00, 0x80, 0x83, 0xB0, 0xB1, 0xB2}[r.nextInt(6)];
                    }
                    edtl = r.nextInt(4) == 0 ? Mutator.interestingInt(r) & 0x7FFFFFFF : 255;
                    if (op[1] == 4) {
                        cdb[4] = (byte) edtl;
                    } else if (op[1] == 3 || op[1] == 7) {
                        cdb[op[1]] = (byte) (edtl >>> 8);
                        cdb[op[1] + 1] = (byte) edtl;
                    } else {
                        Wire.put32(cdb, op[1], edtl);
                    }
                }
                case 6 -> { // WRITE SAME(16) / (10), VERIFY
                    write = true;
                    cdb[0] = (byte) new int[] {0x93, 0x41, 0x2F, 0x8F}[r.nextInt(4)];
                    cdb[1] = (byte) (r.nextInt(3) == 0 ? r.nextInt(256) : 0x08 * r.nextInt(2) | 0x02 * r.nextInt(2));
                    Wire.put32(cdb, 2, r.nextInt(64));
                    cdb[8] = (byte) (1 + r.nextInt(16));
                    Wire.put32(cdb, 10, 1 + r.nextInt(16));
                    edtl = r.nextBoolean() ? blockSize : (1 + r.nextInt(16)) * blockSize;
                }
                case 7 -> { // anything
                    r.nextBytes(cdb);
                    read = r.nextBoolean();
                    write = r.nextBoolean();
                    edtl = Mutator.interestingInt(r) & (r.nextBoolean() ? 0xFFFF : 0x7FFFFFFF);
                }
                case 8 -> { // TEST UNIT READY, SYNCHRONIZE CACHE, RESERVE/RELEASE
                    cdb[0] = (byte) new int[] {0x00, 0x35, 0x91, 0x16, 0x17, 0x56, 0x57, 0x1B, 0x1E}[r.nextInt(9)];
                    edtl = 0;
                }
                default -> { // a real initiator's CDB
                    List<Wire.Seed> cmds = Wire.seeds(0x01);
                    Wire.Seed s = cmds.get(r.nextInt(cmds.size()));
                    System.arraycopy(s.header(), 32, cdb, 0, 16);
                    read = (s.header()[1] & 0x40) != 0;
                    write = (s.header()[1] & 0x20) != 0;
                    edtl = Wire.u32(s.header(), 20);
                }
            }
            if (r.nextInt(10) == 0) {
                edtl = Mutator.interestingInt(r) & 0x7FFFFFFF;
            }
            int immediateLength = 0;
            boolean finalBit = true;
            if (write && immediateData && r.nextBoolean()) {
                immediateLength = Math.min(edtl, Math.min(firstBurst, c.target.context.maxRecvDataSegmentLength()));
                if (r.nextBoolean()) {
                    immediateLength = r.nextInt(immediateLength + 1);
                }
            }
            if (write && r.nextInt(3) == 0) {
                finalBit = false; // unsolicited Data-Out follows (refused with InitialR2T=Yes)
            }
            int flags = (finalBit ? 0x80 : 0) | (read ? 0x40 : 0) | (write ? 0x20 : 0) | r.nextInt(r.nextInt(10) == 0 ? 8 : 2);
            byte[] h = FuzzConnection.header(0x01, immediate, flags);
            Wire.put64(h, 8, lun);
            int itt = pickItt();
            Wire.put32(h, 16, itt);
            Wire.put32(h, 20, edtl);
            Wire.put32(h, 24, pickCmdSn(immediate));
            Wire.put32(h, 28, c.expStatSn);
            System.arraycopy(cdb, 0, h, 32, 16);
            byte[] data = Mutator.randomBytes(r, immediateLength);
            if (write) {
                writes.add(new int[] {itt, edtl, immediateLength, finalBit ? 1 : 0});
            }
            c.sendPdu("SCSI command " + Wire.hex(cdb) + " edtl " + edtl + " imm " + immediateLength, h, data);
        }

        void dataOut() {
            if (!c.r2ts.isEmpty() && r.nextInt(4) != 0) {
                FuzzConnection.R2t t = c.r2ts.remove(r.nextInt(c.r2ts.size()));
                sequence(t.itt(), t.lun(), t.ttt(), t.offset(), t.length());
            } else if (!writes.isEmpty()) {
                int[] w = writes.get(r.nextInt(writes.size()));
                int end = Math.min(w[1], firstBurst);
                sequence(w[0], 0, -1, w[2], Math.max(0, end - w[2]));
            } else {
                sequence(pickItt(), 0, r.nextInt(), Mutator.interestingInt(r), r.nextInt(5000));
            }
        }

        /** The Data-Out PDUs of one sequence, each at most the target's MaxRecvDataSegmentLength; maybe one field wrong. */
        private void sequence(int itt, long lun, int ttt, int offset, int length) {
            int max = Math.min(c.target.context.maxRecvDataSegmentLength(), 1 << 16);
            int done = 0;
            int dataSn = 0;
            int corruptAt = r.nextInt(4) == 0 ? r.nextInt(Math.max(1, length / max + 1)) : -1;
            int pdus = 0;
            do {
                int n = Math.min(length - done, 1 + r.nextInt(max));
                boolean last = done + n >= length;
                byte[] h = FuzzConnection.header(0x05, false, last ? 0x80 : 0);
                Wire.put64(h, 8, lun);
                Wire.put32(h, 16, itt);
                Wire.put32(h, 20, ttt);
                Wire.put32(h, 28, c.expStatSn);
                Wire.put32(h, 36, dataSn++);
                Wire.put32(h, 40, offset + done);
                byte[] data = Mutator.randomBytes(r, Math.max(0, n));
                if (pdus == corruptAt) {
                    h = mutateLogical(r, h);
                    if (r.nextBoolean()) {
                        data = Mutator.randomBytes(r, r.nextInt(max + 1));
                    }
                }
                c.sendPdu("Data-Out itt " + itt + " ttt " + ttt + " offset " + (offset + done) + " len " + data.length, h, data);
                done += n;
                pdus++;
            } while (done < length && c.open() && pdus < 300);
        }

        void nopOut() {
            boolean answer = r.nextInt(4) == 0;
            byte[] h = FuzzConnection.header(0x00, r.nextBoolean(), 0x80);
            int itt = answer ? -1 : pickItt();
            Wire.put64(h, 8, pickLun());
            Wire.put32(h, 16, itt);
            Wire.put32(h, 20, answer ? nopTtt : -1);
            Wire.put32(h, 24, pickCmdSn(true));
            Wire.put32(h, 28, c.expStatSn);
            c.sendPdu("NOP-Out", h, Mutator.randomBytes(r, r.nextInt(3) == 0 ? r.nextInt(70000) : r.nextInt(64)));
        }

        void taskManagement() {
            int[] functions = {1, 1, 2, 4, 5, 6, 7, 8, 0, 15};
            boolean immediate = r.nextInt(3) != 0;
            byte[] h = FuzzConnection.header(0x02, immediate, 0x80 | functions[r.nextInt(functions.length)]);
            Wire.put64(h, 8, pickLun());
            Wire.put32(h, 16, pickItt());
            Wire.put32(h, 20, itts.isEmpty() || r.nextInt(5) == 0 ? r.nextInt() : itts.get(r.nextInt(itts.size())));
            Wire.put32(h, 24, pickCmdSn(immediate));
            Wire.put32(h, 28, c.expStatSn);
            Wire.put32(h, 32, c.cmdSn - r.nextInt(4));
            c.sendPdu("TMF " + (h[1] & 0x7F), h, new byte[0]);
        }

        void text() {
            boolean immediate = r.nextBoolean();
            int flags = r.nextInt(8) == 0 ? 0x40 : 0x80;
            byte[] h = FuzzConnection.header(0x04, immediate, flags);
            Wire.put32(h, 16, pickItt());
            Wire.put32(h, 20, r.nextInt(4) == 0 ? textTtt : r.nextInt(10) == 0 ? r.nextInt() : -1);
            Wire.put32(h, 24, pickCmdSn(immediate));
            Wire.put32(h, 28, c.expStatSn);
            byte[] data = r.nextBoolean() ? Wire.text(List.of("SendTargets=" + new String[] {"All", "", FuzzTarget.IQN,
                    FuzzTarget.CHAP_IQN, "nope"}[r.nextInt(5)])) : LoginTextFuzzTest.randomText(r);
            c.sendPdu("Text", h, data);
        }

        void logout() {
            boolean immediate = r.nextInt(4) != 0;
            int reason = r.nextInt(4) == 0 ? r.nextInt(128) : r.nextInt(3);
            c.logoutRequested |= immediate && c.aligned && reason < 2;
            byte[] h = FuzzConnection.header(0x06, immediate, 0x80 | reason);
            Wire.put32(h, 16, pickItt());
            Wire.put32(h, 24, pickCmdSn(true));
            Wire.put32(h, 28, c.expStatSn);
            c.sendPdu("Logout", h, new byte[0]);
        }

        /** A real initiator's PDU (any kind), as recorded or mutated, framed for this connection. */
        void seed() {
            List<Wire.Seed> corpus = Wire.seeds();
            Wire.Seed s = corpus.get(r.nextInt(corpus.size()));
            byte[] header = s.header().clone();
            if (r.nextBoolean()) {
                Wire.put32(header, 24, c.cmdSn); // in the window, so it gets processed
                Wire.put32(header, 28, c.expStatSn);
                if (s.opcode() == 0x01 && (header[0] & 0x40) == 0) {
                    c.cmdSn++;
                }
            }
            if (r.nextBoolean()) {
                header = mutateLogical(r, header);
            }
            byte[] data = r.nextInt(3) == 0 ? mutateData(r, s.data()) : s.data();
            byte[] frame = Wire.frame(header, data, c.hd, c.dd);
            if (r.nextInt(10) == 0) {
                frame = Mutator.mutate(r, frame, sent);
                if (r.nextBoolean()) {
                    Wire.fixDigests(frame, c.hd, c.dd);
                }
                c.aligned = false;
            }
            sent.add(frame);
            c.send("seed " + s.name(), frame);
        }

        /** Many commands at once, immediate ones too (they are outside the CmdSN window), often big writes without data. */
        void burst() {
            int n = 5 + r.nextInt(r.nextBoolean() ? 20 : 40);
            boolean immediate = r.nextBoolean();
            boolean bigWrite = r.nextBoolean();
            for (int i = 0; i < n && c.open(); i++) {
                byte[] cdb = new byte[16];
                int edtl;
                int flags;
                if (bigWrite) {
                    cdb[0] = 0x2A;
                    Wire.put32(cdb, 2, r.nextInt(64));
                    cdb[7] = 0x08; // 2048 blocks of 4 KiB on LUN 1: 8 MiB
                    edtl = 8 << 20;
                    flags = 0xA1;
                } else {
                    cdb[0] = 0x28;
                    cdb[8] = 8;
                    edtl = 4096;
                    flags = 0xC1;
                }
                byte[] h = FuzzConnection.header(0x01, immediate, flags);
                Wire.put64(h, 8, 1L << 48);
                int itt = pickItt();
                Wire.put32(h, 16, itt);
                Wire.put32(h, 20, edtl);
                Wire.put32(h, 24, immediate ? c.cmdSn : c.cmdSn++);
                Wire.put32(h, 28, c.expStatSn);
                System.arraycopy(cdb, 0, h, 32, 16);
                if (bigWrite) {
                    writes.add(new int[] {itt, edtl, 0, 1});
                }
                c.sendPdu("burst command " + i + (immediate ? " (immediate)" : ""), h, new byte[0]);
            }
        }

        /** Login, SNACK, opcodes nobody defined, with random fields. */
        void other() {
            int[] ops = {0x03, 0x10, 0x07, 0x1C, 0x1E, 0x20, 0x3F, r.nextInt(64)};
            byte[] h = Mutator.randomBytes(r, Wire.BHS);
            h[0] = (byte) ((r.nextBoolean() ? 0x40 : 0) | ops[r.nextInt(ops.length)]);
            Wire.put32(h, 24, c.cmdSn);
            c.sendPdu("opcode 0x" + Integer.toHexString(h[0] & 0x3F), h, Mutator.randomBytes(r, r.nextInt(100)));
        }

        /**
         * Another connection to the same target: the same initiator port (session reinstatement closes
         * this one) or another, which resets LUNs or the target under this connection's commands.
         */
        void secondConnection() {
            FuzzConnection other;
            try {
                other = new FuzzConnection(c.target);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
            c.trace.append("\n  = second connection");
            try {
                boolean reinstate = r.nextInt(3) == 0;
                List<String> keys = new ArrayList<>(loginKeys(r));
                keys.replaceAll(k -> k.equals("SessionType=Discovery") ? "TargetName=" + FuzzTarget.IQN : k);
                if (!reinstate) {
                    keys.replaceAll(k -> k.startsWith("InitiatorName=") ? k + "-2" : k);
                }
                if (!other.login(keys, reinstate ? 0x400001230000L : 0x400001230001L)) {
                    throw other.fail("the second connection's login failed", null);
                }
                c.poll();
                int[] functions = {4, 5, 5, 6, 2};
                byte[] h = FuzzConnection.header(0x02, true, 0x80 | functions[r.nextInt(functions.length)]);
                Wire.put64(h, 8, r.nextBoolean() ? 0 : 1L << 48);
                Wire.put32(h, 16, other.itt());
                Wire.put32(h, 20, -1);
                Wire.put32(h, 24, other.cmdSn);
                Wire.put32(h, 28, other.expStatSn);
                int mark = other.received.size();
                other.sendPdu("TMF " + (h[1] & 0x7F) + " from the second connection", h, new byte[0]);
                c.poll();
                other.poll();
                if (other.open() && other.since(mark).stream().noneMatch(p -> p.opcode() == 0x22)) {
                    throw other.fail("no task management response on the second connection", null);
                }
                c.trace.append(other.trace.toString().replace("\n", "\n    (2nd)"));
                other.finish(true);
            } finally {
                other.abort();
            }
            c.poll();
        }

        /** Bytes that are no PDU at all: the decoder must refuse them or wait, the connection survive or close. */
        void junk() {
            c.aligned = false;
            byte[] b = Mutator.randomBytes(r, 1 + r.nextInt(200));
            if (r.nextBoolean() && b.length > 8) {
                Wire.put24(b, 5, Mutator.INTERESTING_DSL[r.nextInt(Mutator.INTERESTING_DSL.length)]);
                b[4] = 0;
            }
            c.send("junk", b);
        }
    }
}
