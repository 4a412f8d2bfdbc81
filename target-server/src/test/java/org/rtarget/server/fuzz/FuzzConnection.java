package org.rtarget.server.fuzz;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.rtarget.server.iscsi.IscsiConnection;
import org.rtarget.server.scsi.LogicalUnit;

/**
 * One connection to a {@link FuzzTarget} on the server's real pipeline (decoder, connection) in an
 * EmbeddedChannel with a counting allocator, seen from the initiator's side: it sends raw PDUs,
 * reads back and checks everything the target writes, and follows the login (digests, StatSN) and
 * the R2Ts, so that the fuzzer can answer them.
 *
 * <p>What it checks on every PDU the target sends: framing and digests, a data segment no longer
 * than the initiator's MaxRecvDataSegmentLength (8192 during login), a target opcode, SAM statuses
 * and well-formed sense in SCSI responses. After every step: no exception out of the pipeline, at
 * most one PDU's worth plus twice {@code QUEUE_DEPTH} transfers of memory held.
 */
final class FuzzConnection {
    static final Set<Integer> TARGET_OPCODES = Set.of(0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x31, 0x32, 0x3F);
    static final Set<Integer> SAM = Set.of(0x00, 0x02, 0x04, 0x08, 0x18, 0x28, 0x30, 0x40);
    /**
     * What a connection may hold: the write buffers of its commands (at most the queue depth in the
     * CmdSN window, and as many immediate commands, which are outside it), one PDU being decoded, slack.
     */
    static final long MEMORY_BOUND = 2L * FuzzTarget.QUEUE_DEPTH * LogicalUnit.MAX_TRANSFER_BYTES
            + 4L * FuzzTarget.MAX_RECV + (4 << 20);

    /** A PDU the target sent. */
    record In(byte[] bhs, byte[] data) {
        int opcode() {
            return bhs[0] & 0x3F;
        }

        int flags() {
            return bhs[1] & 0xFF;
        }

        int itt() {
            return Wire.u32(bhs, 16);
        }

        int word(int at) {
            return Wire.u32(bhs, at);
        }
    }

    /** An R2T still to be answered: task, TTT, offset, length. */
    record R2t(int itt, long lun, int ttt, int offset, int length) {
    }

    final FuzzTarget target;
    final EmbeddedChannel ch;
    final UnpooledByteBufAllocator alloc = Guards.countingAllocator();
    private final ByteBuf fromTarget = Unpooled.buffer();
    final StringBuilder trace = new StringBuilder();
    final List<In> received = new ArrayList<>();
    final List<R2t> r2ts = new ArrayList<>();
    final Map<String, String> negotiated = new HashMap<>();
    /** Digests on the PDUs each side sends (they start after the final login response). */
    boolean hd;
    boolean dd;
    boolean loggedIn;
    /** The initiator's MaxRecvDataSegmentLength: 8192 during login, then what it declared. */
    int maxRecv = 8192;
    int declaredMaxRecv = 8192;
    int cmdSn = 0x1000;
    int expStatSn;
    int nextItt = 0x10;
    long peak;
    int steps;
    /** False once the fuzzer sent bytes that may have left the target's decoder in the middle of a PDU. */
    boolean aligned = true;
    /** An immediate Logout Request (close the session or the connection) was sent in the full feature phase. */
    boolean logoutRequested;

    FuzzConnection(FuzzTarget target) throws Exception {
        this.target = target;
        IscsiConnection connection = new IscsiConnection(target.context);
        ch = new EmbeddedChannel(false, false, connection.decoder(), connection);
        ch.config().setAllocator(alloc);
        ch.register();
    }

    int itt() {
        return nextItt++;
    }

    /** Starts the trace with the try's seed; returns this. */
    FuzzConnection describe(long seed) {
        trace.append("seed ").append(seed);
        return this;
    }

    boolean open() {
        return ch.isOpen();
    }

    /** Sends bytes as one read; checks what comes back. */
    void send(String what, byte[] bytes) {
        if (!ch.isOpen()) {
            return;
        }
        steps++;
        trace.append("\n  > ").append(what).append(": ").append(Wire.hex(bytes, 0, 64))
                .append(bytes.length > 64 ? "... (" + bytes.length + " bytes)" : "");
        try {
            ch.writeInbound(Unpooled.wrappedBuffer(bytes));
            ch.runPendingTasks();
            ch.checkException();
        } catch (Throwable t) {
            throw fail("an exception left the pipeline: " + t, t);
        }
        readTarget();
        long used = Guards.used(alloc);
        peak = Math.max(peak, used);
        if (used > MEMORY_BOUND) {
            throw fail("the connection holds " + used + " bytes (bound " + MEMORY_BOUND + ")", null);
        }
    }

    /** Runs what other connections queued on this one's event loop (aborts, task management), then reads and checks. */
    void poll() {
        try {
            ch.runPendingTasks();
            ch.checkException();
        } catch (Throwable t) {
            throw fail("an exception left the pipeline: " + t, t);
        }
        readTarget();
        long used = Guards.used(alloc);
        peak = Math.max(peak, used);
        if (used > MEMORY_BOUND) {
            throw fail("the connection holds " + used + " bytes (bound " + MEMORY_BOUND + ")", null);
        }
    }

    /** A PDU framed for the current digests. */
    void sendPdu(String what, byte[] header, byte[] data) {
        send(what, Wire.frame(header, data, hd, dd));
    }

    AssertionError fail(String message, Throwable cause) {
        AssertionError e = new AssertionError(message + "\ntrace:" + trace);
        if (cause != null) {
            e.initCause(cause);
        }
        return e;
    }

    private void readTarget() {
        for (Object m; (m = ch.readOutbound()) != null; ) {
            ByteBuf b = (ByteBuf) m;
            try {
                fromTarget.writeBytes(b);
            } finally {
                b.release();
            }
        }
        while (fromTarget.readableBytes() >= Wire.BHS) {
            int start = fromTarget.readerIndex();
            int ahs = fromTarget.getUnsignedByte(start + 4) * 4;
            int dlen = fromTarget.getUnsignedMedium(start + 5);
            int header = Wire.BHS + ahs + (hd ? 4 : 0);
            int padded = Wire.pad(dlen);
            int total = header + padded + (dd && dlen > 0 ? 4 : 0);
            if (fromTarget.readableBytes() < total) {
                break;
            }
            byte[] raw = new byte[total];
            fromTarget.readBytes(raw);
            if (hd && Wire.digestAt(raw, Wire.BHS + ahs) != Wire.crc32c(raw, 0, Wire.BHS + ahs)) {
                throw fail("bad header digest from the target: " + Wire.hex(raw, 0, 52), null);
            }
            if (dd && dlen > 0 && Wire.digestAt(raw, header + padded) != Wire.crc32c(raw, header, padded)) {
                throw fail("bad data digest from the target", null);
            }
            In pdu = new In(Arrays.copyOf(raw, Wire.BHS), Arrays.copyOfRange(raw, header, header + dlen));
            trace.append("\n  < ").append(Wire.hex(pdu.bhs())).append(dlen > 0 ? " +" + dlen : "");
            check(pdu, ahs);
            received.add(pdu);
            follow(pdu);
        }
        fromTarget.discardReadBytes();
    }

    /** What every target PDU must be. */
    private void check(In pdu, int ahs) {
        int op = pdu.opcode();
        if (!TARGET_OPCODES.contains(op)) {
            throw fail("the target sent opcode 0x" + Integer.toHexString(op), null);
        }
        if (ahs != 0) {
            throw fail("the target sent an AHS", null);
        }
        if (pdu.data().length > maxRecv) {
            throw fail("the target sent " + Integer.toHexString(op) + " with " + pdu.data().length
                    + " bytes of data; the initiator's MaxRecvDataSegmentLength is " + maxRecv, null);
        }
        switch (op) {
            case 0x21 -> {
                int status = pdu.bhs()[3] & 0xFF;
                if (!SAM.contains(status) || pdu.bhs()[2] != 0) {
                    throw fail("SCSI response with response " + pdu.bhs()[2] + ", status 0x" + Integer.toHexString(status), null);
                }
                byte[] d = pdu.data();
                if (status == 0x02) {
                    if (d.length < 2 || ((d[0] & 0xFF) << 8 | (d[1] & 0xFF)) != d.length - 2 || d.length < 20
                            || (d[2] & 0x7F) != 0x70 || (d[9] & 0xFF) != d.length - 10 || (d[4] & 0x0F) == 0) {
                        throw fail("CHECK CONDITION with malformed sense " + Wire.hex(d), null);
                    }
                } else if (d.length != 0) {
                    throw fail("sense data with status 0x" + Integer.toHexString(status), null);
                }
            }
            case 0x25 -> {
                if ((pdu.flags() & 0x01) != 0 && !SAM.contains(pdu.bhs()[3] & 0xFF)) {
                    throw fail("Data-In with status 0x" + Integer.toHexString(pdu.bhs()[3] & 0xFF), null);
                }
            }
            case 0x23 -> {
                if ((pdu.bhs()[36] & 0xFF) > 3) {
                    throw fail("login response with status class " + pdu.bhs()[36], null);
                }
            }
            default -> {
            }
        }
    }

    /** Keeps the initiator's view: StatSN, the login's outcome and digests, open R2Ts. */
    private void follow(In pdu) {
        int op = pdu.opcode();
        boolean carriesStatSn = switch (op) {
            case 0x20 -> pdu.itt() != -1;
            case 0x21, 0x22, 0x23, 0x24, 0x26, 0x3F -> true;
            case 0x25 -> (pdu.flags() & 0x01) != 0;
            default -> false;
        };
        if (carriesStatSn) {
            expStatSn = pdu.word(24) + 1;
        }
        if (op == 0x23) {
            for (String p : Wire.pairs(pdu.data())) {
                int eq = p.indexOf('=');
                if (eq > 0) {
                    String key = p.substring(0, eq);
                    // RFC 7143 6.1: a key is declared or negotiated once per login (TargetAddress aside).
                    if (negotiated.put(key, p.substring(eq + 1)) != null && !key.equals("TargetAddress")) {
                        throw fail("the target answered " + key + " twice in one login", null);
                    }
                }
            }
            boolean success = pdu.bhs()[36] == 0 && pdu.bhs()[37] == 0;
            if (success && (pdu.flags() & 0x80) != 0 && (pdu.flags() & 0x03) == 3) {
                loggedIn = true;
                hd = "CRC32C".equals(negotiated.get("HeaderDigest"));
                dd = "CRC32C".equals(negotiated.get("DataDigest"));
                maxRecv = declaredMaxRecv;
            }
        }
        if (op == 0x31) {
            r2ts.add(new R2t(pdu.itt(), ByteBuffer.wrap(pdu.bhs(), 8, 8).getLong(), pdu.word(20), pdu.word(40), pdu.word(44)));
        }
        if (op == 0x21 || op == 0x25 && (pdu.flags() & 0x01) != 0) {
            int itt = pdu.itt();
            r2ts.removeIf(r -> r.itt() == itt);
        }
    }

    /** The PDUs received since {@code from}. */
    List<In> since(int from) {
        return received.subList(from, received.size());
    }

    /**
     * The end of a try: an aligned, open connection must answer an immediate NOP-Out (or close on
     * it, during login); then the channel is closed and every buffer must be back.
     */
    void finish(boolean probe) {
        if (probe && aligned && ch.isOpen()) {
            int itt = 0x7EADBEEF;
            byte[] h = new byte[Wire.BHS];
            h[0] = 0x40;
            h[1] = (byte) 0x80;
            Wire.put32(h, 16, itt);
            Wire.put32(h, 20, -1);
            Wire.put32(h, 24, cmdSn);
            Wire.put32(h, 28, expStatSn);
            int mark = received.size();
            sendPdu("probe NOP-Out", h, new byte[0]);
            boolean answered = since(mark).stream().anyMatch(p -> p.opcode() == 0x20 && p.itt() == itt);
            if (!answered && ch.isOpen()) {
                throw fail("the connection neither answered a NOP-Out nor closed (logged in: " + loggedIn + ")", null);
            }
            if (ch.isOpen() && logoutRequested && received.stream().noneMatch(p -> p.opcode() == 0x26)) {
                // Only commands still waiting for data hold a logout back: a target warm reset ends
                // them, and then the logout must be answered.
                byte[] reset = header(0x02, true, 0x80 | 6);
                Wire.put32(reset, 16, 0x7EADBEEE);
                Wire.put32(reset, 20, -1);
                Wire.put32(reset, 24, cmdSn);
                Wire.put32(reset, 28, expStatSn);
                sendPdu("probe TARGET WARM RESET", reset, new byte[0]);
                if (ch.isOpen() && received.stream().noneMatch(p -> p.opcode() == 0x26)) {
                    throw fail("a logout was never answered, though no command is left", null);
                }
            }
        }
        try {
            ch.close();
            ch.runPendingTasks();
            readTarget();
            ch.finishAndReleaseAll();
        } catch (AssertionError e) {
            throw e;
        } catch (Throwable t) {
            throw fail("closing the channel threw " + t, t);
        }
        for (Object m; (m = ch.readOutbound()) != null; ) {
            Guards.releaseAll(List.of(m));
        }
        long used = Guards.used(alloc);
        if (used != 0) {
            throw fail(used + " bytes still allocated after the connection closed (leak)", null);
        }
        List<String> violations = target.violations();
        if (!violations.isEmpty()) {
            throw fail("backend called out of range: " + violations, null);
        }
    }

    /** After a try, passed or failed: closes and releases without checking, so one failure does not leak into the next. */
    void abort() {
        try {
            if (ch.isOpen()) {
                ch.close();
            }
            ch.runPendingTasks();
            ch.finishAndReleaseAll();
        } catch (Throwable ignored) {
            // the try has already failed or passed
        }
        for (Object m; (m = ch.readOutbound()) != null; ) {
            Guards.releaseAll(List.of(m));
        }
    }

    // ----- PDUs -----

    static byte[] header(int opcode, boolean immediate, int flags) {
        byte[] h = new byte[Wire.BHS];
        h[0] = (byte) (opcode | (immediate ? 0x40 : 0));
        h[1] = (byte) flags;
        return h;
    }

    /** A login request: ISID, TSIH, ITT, CID 0, CmdSN, ExpStatSN. */
    byte[] loginHeader(int flags, long isid, int tsih, int itt) {
        byte[] h = header(0x03, true, flags);
        Wire.put32(h, 8, (int) (isid >>> 16));
        h[12] = (byte) (isid >>> 8);
        h[13] = (byte) isid;
        h[14] = (byte) (tsih >>> 8);
        h[15] = (byte) tsih;
        Wire.put32(h, 16, itt);
        Wire.put32(h, 24, cmdSn);
        Wire.put32(h, 28, expStatSn);
        return h;
    }

    /** A one-PDU login (operational stage to full feature phase) with the given keys; true if it succeeded. */
    boolean login(List<String> keys) {
        return login(keys, 0x400001230000L);
    }

    boolean login(List<String> keys, long isid) {
        for (String k : keys) {
            if (k.startsWith("MaxRecvDataSegmentLength=")) {
                declaredMaxRecv = Integer.parseInt(k.substring(k.indexOf('=') + 1));
            }
        }
        int mark = received.size();
        sendPdu("login " + keys, loginHeader(0x87, isid, 0, itt()), Wire.text(keys));
        return loggedIn && since(mark).stream().anyMatch(p -> p.opcode() == 0x23);
    }
}
