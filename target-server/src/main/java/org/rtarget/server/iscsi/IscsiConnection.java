package org.rtarget.server.iscsi;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.util.collection.IntObjectHashMap;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.rtarget.server.iscsi.login.LoginException;
import org.rtarget.server.iscsi.login.LoginStatus;
import org.rtarget.server.iscsi.login.SessionParams;
import org.rtarget.server.iscsi.login.TextKeys;
import org.rtarget.server.iscsi.pdu.Digests;
import org.rtarget.server.iscsi.pdu.Opcode;
import org.rtarget.server.iscsi.pdu.Pdu;
import org.rtarget.server.iscsi.pdu.PduDecoder;
import org.rtarget.server.iscsi.pdu.PduException;
import org.rtarget.server.iscsi.pdu.PduWriter;
import org.rtarget.server.scsi.ItlNexus;
import org.rtarget.server.scsi.LogicalUnit;
import org.rtarget.server.scsi.LunAddress;
import org.rtarget.server.scsi.ScsiCommand;
import org.rtarget.server.scsi.ScsiCore;
import org.rtarget.server.scsi.ScsiStatus;
import org.rtarget.server.scsi.SenseCode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One iSCSI connection: login, then the full feature phase (RFC 7143). Everything here runs on the
 * connection's event loop, so its state needs no locks. Backend completions from other threads come
 * back through {@link IscsiTask#run()}.
 */
public final class IscsiConnection extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(IscsiConnection.class);
    private static final int RESERVED = Pdu.RESERVED_TAG;
    /** Login PDUs are bounded by the RFC default MaxRecvDataSegmentLength. */
    private static final int LOGIN_MAX_DATA = 8192;

    // SCSI Command / Data-In / SCSI Response flag bits.
    private static final int F = 0x80;
    private static final int READ_BIT = 0x40;
    private static final int WRITE_BIT = 0x20;
    private static final int STATUS_BIT = 0x01;
    private static final int OVERFLOW = 0x04;
    private static final int UNDERFLOW = 0x02;
    private static final int CONTINUE = 0x40;

    // Reject reasons (RFC 7143 11.17.1).
    private static final int REJECT_PROTOCOL_ERROR = 0x04;
    private static final int REJECT_NOT_SUPPORTED = 0x05;
    private static final int REJECT_INVALID_FIELD = 0x09;
    private static final int REJECT_WAITING_FOR_LOGOUT = 0x0C;

    // Task management functions and responses (RFC 7143 11.5, 11.6).
    private static final int TMF_ABORT_TASK = 1;
    private static final int TMF_ABORT_TASK_SET = 2;
    private static final int TMF_CLEAR_TASK_SET = 4;
    private static final int TMF_LUN_RESET = 5;
    private static final int TMF_TARGET_WARM_RESET = 6;
    private static final int TMF_TASK_REASSIGN = 8;
    private static final int TMF_COMPLETE = 0;
    private static final int TMF_NO_TASK = 1;
    private static final int TMF_NO_LUN = 2;
    private static final int TMF_NO_REASSIGN = 4;
    private static final int TMF_NOT_SUPPORTED = 5;

    private enum Phase { LOGIN, FULL_FEATURE, LOGGING_OUT, CLOSED }

    private final ServerContext server;
    private final Digests digests = new Digests();
    private final PduDecoder decoder;
    private Channel channel;
    private EventLoop loop;
    private PduWriter writer;
    private String peer = "?";
    private InetAddress peerAddress;

    private Phase phase = Phase.LOGIN;
    private Login login;
    private IscsiSession session;
    private SessionParams params;
    private int statSn;

    private final IntObjectHashMap<IscsiTask> tasks = new IntObjectHashMap<>();
    private final ArrayDeque<IscsiTask> freeTasks = new ArrayDeque<>();
    /** Reads held back while the socket does not drain (a slow reader), oldest first. */
    private final ArrayDeque<IscsiTask> parkedReads = new ArrayDeque<>();
    private int nextTtt = 1;

    private long connectedNanos;
    private long lastInboundNanos;
    private int pingTtt = RESERVED;
    private long pingSentNanos;
    private ScheduledFuture<?> timer;

    private int logoutItt;
    private boolean logoutAnswered;
    private ByteBuf pendingText;
    private int pendingTextTtt = RESERVED;

    public IscsiConnection(ServerContext server) {
        this.server = server;
        this.decoder = new PduDecoder(digests, LOGIN_MAX_DATA);
    }

    /** The decoder belongs in the pipeline in front of this handler. */
    public PduDecoder decoder() {
        return decoder;
    }

    // ----- channel life -----

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        channel = ctx.channel();
        loop = channel.eventLoop();
        writer = new PduWriter(channel, digests);
        peer = describe(channel.remoteAddress());
        peerAddress = channel.remoteAddress() instanceof InetSocketAddress inet ? inet.getAddress() : null;
        login = new Login(server.directory(), server.maxRecvDataSegmentLength(), peerAddress);
        connectedNanos = System.nanoTime();
        lastInboundNanos = connectedNanos;
        long tick = Math.max(100, Math.min(1000, server.nopInterval().toMillis() / 2));
        timer = loop.scheduleAtFixedRate(this::tick, tick, tick, TimeUnit.MILLISECONDS);
        log.debug("connection from {}", peer);
        ctx.fireChannelActive();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        Phase was = phase;
        phase = Phase.CLOSED;
        if (timer != null) {
            timer.cancel(false);
        }
        for (IscsiTask task : new ArrayList<>(tasks.values())) {
            dropTask(task);
        }
        tasks.clear();
        if (pendingText != null) {
            pendingText.release();
            pendingText = null;
        }
        if (session != null) {
            server.sessions().unregister(session);
            session.detachLuns(was != Phase.LOGGING_OUT);
            if (was != Phase.LOGGING_OUT) {
                log.info("{} closed by {} without logout", session, peer);
            } else {
                log.info("{} logged out", session);
            }
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        Throwable root = cause instanceof io.netty.handler.codec.DecoderException && cause.getCause() != null
                ? cause.getCause() : cause;
        if (root instanceof PduException || cause instanceof PduException) {
            log.warn("closing connection from {}: malformed PDU: {}", peer, root.getMessage());
        } else if (root instanceof java.io.IOException) {
            log.debug("connection from {}: {}", peer, root.toString());
        } else {
            log.warn("closing connection from {} after an internal error", peer, root);
        }
        ctx.close();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        Pdu pdu = (Pdu) msg;
        lastInboundNanos = System.nanoTime();
        try {
            if (phase == Phase.LOGIN) {
                onLoginPhase(pdu);
            } else if (phase != Phase.CLOSED) {
                onFullFeature(pdu);
            }
        } catch (ProtocolViolation e) {
            log.warn("closing connection from {}: protocol error: {}", peer, e.getMessage());
            channel.close();
        } finally {
            pdu.release();
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        writer.flush();
        ctx.fireChannelReadComplete();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        // A slow reader: stop reading new commands until the socket drains, so output stays bounded.
        boolean writable = channel.isWritable();
        while (writable && !parkedReads.isEmpty() && channel.isWritable()) {
            executeTask(parkedReads.pollFirst());
        }
        channel.config().setAutoRead(writable);
        ctx.fireChannelWritabilityChanged();
    }

    // ----- accessors used by tasks and the session -----

    ByteBufAllocator alloc() {
        return channel.alloc();
    }

    boolean inEventLoop() {
        return loop.inEventLoop();
    }

    void execute(Runnable r) {
        loop.execute(r);
    }

    int outstandingCommands() {
        return session == null ? 0 : session.outstanding();
    }

    /** Closes this connection from any thread (session reinstatement, admin action). */
    public void close(String why) {
        log.info("closing connection from {}: {}", peer, why);
        channel.close();
    }

    public String peer() {
        return peer;
    }

    public SessionParams params() {
        return params;
    }

    // ----- login phase -----

    private void onLoginPhase(Pdu pdu) {
        if (pdu.opcode() != Opcode.LOGIN_REQUEST) {
            throw new ProtocolViolation(Opcode.name(pdu.opcode()) + " before login completed");
        }
        if (!login.started()) {
            statSn = pdu.expStatSn(); // the first response starts StatSN where the initiator expects it
        }
        Login.Reply reply;
        try {
            reply = login.step(pdu);
            if (reply.done()) {
                session = startSession();
            }
        } catch (LoginException e) {
            refuseLogin(pdu, e);
            return;
        }
        if (!reply.done()) {
            sendLoginResponse(reply.flags(), reply.itt(), reply.keys(), reply.status(), 0);
            return;
        }
        sendLoginResponse(reply.flags(), reply.itt(), reply.keys(), LoginStatus.SUCCESS, session.tsih());
        server.metrics().loginSucceeded();
        writer.flush();
        // Digests and the negotiated segment size apply from the next PDU in each direction.
        digests.enable(params.headerDigest(), params.dataDigest());
        decoder.maxDataSegmentLength(params.targetMaxRecvDataSegmentLength());
        phase = Phase.FULL_FEATURE;
        String authMethod = login.authMethod();
        login = null;
        log.info("{} logged in from {} (AuthMethod={} HeaderDigest={} DataDigest={} MaxRecvDataSegmentLength={}"
                        + " MaxBurstLength={} FirstBurstLength={} ImmediateData={} InitialR2T={})", session, peer,
                authMethod, params.headerDigest() ? "CRC32C" : "None", params.dataDigest() ? "CRC32C" : "None",
                params.initiatorMaxRecvDataSegmentLength(), params.maxBurstLength(), params.firstBurstLength(),
                params.immediateData() ? "Yes" : "No", params.initialR2T() ? "Yes" : "No");
    }

    /** Registers the session the login made (which may exceed a limit) and attaches the LUNs it may see. */
    private IscsiSession startSession() throws LoginException {
        params = login.params();
        IscsiTarget target = login.target();
        IscsiSession started = new IscsiSession(
                new SessionRegistry.SessionKey(login.initiatorName(), login.isid(), target == null ? "" : target.iqn()),
                login.initiatorAlias(), target, params, this, login.firstCmdSn());
        IscsiSession replaced = server.sessions().register(started);
        if (replaced != null) {
            replaced.connection().close("session reinstated by a new login with the same ISID");
        }
        started.attachLuns(login.visibleLuns());
        return started;
    }

    /** Ends a login with a failure status: one log line, the response, then the connection closes. */
    private void refuseLogin(Pdu pdu, LoginException e) {
        server.metrics().loginFailed(e.status());
        String initiator = login.initiatorName() == null ? "?" : login.initiatorName();
        if (e.status() == LoginStatus.AUTHENTICATION_FAILURE || e.status() == LoginStatus.AUTHORIZATION_FAILURE
                || e.status() == LoginStatus.OUT_OF_RESOURCES) {
            log.warn("login from {} ({}) refused: {}: {}", peer, initiator, e.status(), e.getMessage());
        } else {
            log.info("login from {} ({}) refused: {}: {}", peer, initiator, e.status(), e.getMessage());
        }
        sendLoginResponse(pdu.flags() & 0x0C, pdu.initiatorTaskTag(), TextKeys.empty(), e.status(), 0);
        channel.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }

    private void sendLoginResponse(int flags, int itt, TextKeys keys, LoginStatus status, int tsih) {
        ByteBuf h = writer.header(Opcode.LOGIN_RESPONSE, flags);
        h.setByte(2, 0); // version-max
        h.setByte(3, 0); // version-active
        long isid = login.isid();
        h.setInt(8, (int) (isid >>> 16));
        h.setShort(12, (int) isid);
        h.setShort(14, tsih);
        h.setInt(16, itt);
        h.setInt(24, statSn++);
        int expCmdSn = login.firstCmdSn();
        h.setInt(28, expCmdSn);
        h.setInt(32, expCmdSn);
        h.setByte(36, status.statusClass());
        h.setByte(37, status.detail());
        ByteBuf data = null;
        if (!keys.isEmpty()) {
            data = alloc().buffer();
            keys.encode(data);
        }
        writer.send(h, data);
    }

    // ----- full feature phase -----

    private void onFullFeature(Pdu pdu) {
        switch (pdu.opcode()) {
            case Opcode.SCSI_COMMAND -> onScsiCommand(pdu);
            case Opcode.DATA_OUT -> onDataOut(pdu);
            case Opcode.NOP_OUT -> onNopOut(pdu);
            case Opcode.TASK_MGMT_REQUEST -> onTaskManagement(pdu);
            case Opcode.TEXT_REQUEST -> onText(pdu);
            case Opcode.LOGOUT_REQUEST -> onLogout(pdu);
            case Opcode.SNACK_REQUEST -> reject(pdu, REJECT_NOT_SUPPORTED); // ErrorRecoveryLevel 0
            case Opcode.LOGIN_REQUEST -> reject(pdu, REJECT_PROTOCOL_ERROR);
            default -> reject(pdu, REJECT_NOT_SUPPORTED);
        }
    }

    /** CmdSN ordering for commands that carry one: true if the command is to be processed. */
    private boolean inWindow(Pdu pdu) {
        if (pdu.immediate() || session.acceptCmdSn(pdu.cmdSn())) {
            return true;
        }
        log.debug("{}: ignoring {} with CmdSN {} outside the window (ExpCmdSN {})", session,
                Opcode.name(pdu.opcode()), Integer.toUnsignedString(pdu.cmdSn()),
                Integer.toUnsignedString(session.expCmdSn()));
        return false;
    }

    private void onScsiCommand(Pdu pdu) {
        if (session.discovery()) {
            reject(pdu, REJECT_PROTOCOL_ERROR);
            return;
        }
        if (phase == Phase.LOGGING_OUT) {
            reject(pdu, REJECT_WAITING_FOR_LOGOUT);
            return;
        }
        if (!inWindow(pdu)) {
            return;
        }
        int itt = pdu.initiatorTaskTag();
        if (itt == RESERVED || tasks.containsKey(itt)) { // 0xffffffff names no task (RFC 7143 11.1)
            reject(pdu, REJECT_INVALID_FIELD);
            return;
        }
        int flags = pdu.flags();
        boolean finalBit = (flags & F) != 0;
        boolean readBit = (flags & READ_BIT) != 0;
        boolean writeBit = (flags & WRITE_BIT) != 0;
        int edtl = pdu.word20();
        int immediateLength = pdu.dataSegmentLength();
        if (edtl < 0) {
            throw new ProtocolViolation("expected data transfer length " + Integer.toUnsignedString(edtl));
        }
        if (immediateLength > 0 && (!writeBit || !params.immediateData() || immediateLength > edtl
                || immediateLength > params.firstBurstLength())) {
            throw new ProtocolViolation("immediate data of " + immediateLength + " bytes not allowed here");
        }
        if (writeBit && !finalBit && params.initialR2T()) {
            throw new ProtocolViolation("unsolicited Data-Out announced while InitialR2T=Yes");
        }
        IscsiTask task = obtainTask();
        task.start(itt, pdu.cmdSn(), pdu.lunField(), pdu.immediate(), pdu.cdb());
        int lun = LunAddress.decode(pdu.lunField());
        task.transport(writeBit ? edtl : 0, readBit ? edtl : 0, writeBit ? edtl : 0, session.nexus(lun));
        tasks.put(itt, task);
        session.commandStarted();

        if (pdu.immediate() && session.outstanding() > session.queueDepth()) {
            // Immediate commands are outside the CmdSN window: bound them by the queue depth too, or
            // each could hold a write buffer of up to MAX_TRANSFER_BYTES (SAM: TASK SET FULL).
            task.taskSetFull();
            task.state = IscsiTask.State.DONE;
            respond(task);
            return;
        }
        if (!ScsiCore.setup(task)) {
            task.state = IscsiTask.State.DONE;
            respond(task);
            return;
        }
        if (task.direction() != ScsiCommand.Direction.OUT || task.transferLength() == 0) {
            executeTask(task);
            return;
        }
        int wanted = task.transferLength();
        ByteBuf immediate = pdu.data();
        if (immediateLength >= wanted) {
            // The whole write came as immediate data: hand the received bytes over without a copy.
            task.setData(immediate.retainedSlice(immediate.readerIndex(), wanted));
            task.received = wanted;
        } else {
            ByteBuf buf = alloc().directBuffer(wanted, wanted);
            buf.writerIndex(wanted);
            buf.setBytes(0, immediate, immediate.readerIndex(), immediateLength);
            task.setData(buf);
            task.received = immediateLength;
        }
        task.unsolicitedEnd = finalBit ? immediateLength : Math.min(params.firstBurstLength(), edtl);
        task.unsolicitedPending = task.unsolicitedEnd > immediateLength;
        task.unsolicitedOffset = immediateLength;
        task.nextR2tOffset = task.unsolicitedEnd;
        if (task.received >= wanted) {
            executeTask(task);
        } else {
            sendR2ts(task);
        }
    }

    private void executeTask(IscsiTask task) {
        if (task.direction() == ScsiCommand.Direction.IN && !channel.isWritable()) {
            // A slow reader: its data would pile up in memory. The read waits, without a buffer,
            // until the socket drains (at most queue-depth of them: the CmdSN window bounds it).
            parkedReads.addLast(task);
            return;
        }
        task.state = IscsiTask.State.EXECUTING;
        ScsiCore.execute(task);
    }

    /** Solicits the rest of a write, keeping at most MaxOutstandingR2T sequences open. */
    private void sendR2ts(IscsiTask task) {
        int wanted = task.transferLength();
        while (task.r2ts.size() < params.maxOutstandingR2T() && task.nextR2tOffset < wanted) {
            int length = Math.min(params.maxBurstLength(), wanted - task.nextR2tOffset);
            IscsiTask.R2t r2t = new IscsiTask.R2t(newTtt(), task.nextR2tSn++, task.nextR2tOffset, length);
            task.nextR2tOffset += length;
            task.r2ts.addLast(r2t);
            ByteBuf h = writer.header(Opcode.R2T, F);
            h.setLong(8, task.lunField);
            h.setInt(16, task.itt);
            h.setInt(20, r2t.ttt);
            h.setInt(24, statSn);
            h.setInt(28, session.expCmdSn());
            h.setInt(32, session.maxCmdSn());
            h.setInt(36, r2t.r2tSn);
            h.setInt(40, r2t.offset);
            h.setInt(44, r2t.length);
            writer.send(h, null);
        }
    }

    private void onDataOut(Pdu pdu) {
        IscsiTask task = tasks.get(pdu.initiatorTaskTag());
        if (task == null || task.state != IscsiTask.State.RECEIVING) {
            // Data for a command already answered (refused at setup, failed, aborted): dropped.
            return;
        }
        String error = acceptDataOut(task, pdu);
        if (error != null) {
            // ErrorRecoveryLevel 0 cannot ask for the data again: this command fails, the session lives on.
            log.warn("{}: {}: failing the command with DATA PHASE ERROR", session, error);
            task.fail(SenseCode.DATA_PHASE_ERROR);
            respond(task);
            return;
        }
        if (task.received >= task.transferLength()) {
            executeTask(task);
        } else if (pdu.finalBit()) {
            sendR2ts(task);
        }
    }

    /**
     * Checks one Data-Out against the sequence it belongs to (DataPDUInOrder and DataSequenceInOrder
     * are Yes, so DataSN and offset must follow exactly) and copies its data. Returns what is wrong,
     * or null.
     */
    private String acceptDataOut(IscsiTask task, Pdu pdu) {
        int ttt = pdu.word20();
        int dataSn = pdu.word36();
        int offset = pdu.word40();
        int length = pdu.dataSegmentLength();
        boolean finalBit = pdu.finalBit();
        if (ttt == RESERVED) {
            if (!task.unsolicitedPending) {
                return "unsolicited Data-Out for " + task + ", which expects none";
            }
            String error = checkSequence(task, "unsolicited", dataSn, task.unsolicitedDataSn, offset,
                    task.unsolicitedOffset, length, task.unsolicitedEnd);
            if (error != null) {
                return error;
            }
            task.unsolicitedDataSn++;
            task.unsolicitedOffset += length;
            if (finalBit != (task.unsolicitedOffset == task.unsolicitedEnd)) {
                return "unsolicited data of " + task + " ends at " + task.unsolicitedOffset + ", its first burst at "
                        + task.unsolicitedEnd;
            }
            task.unsolicitedPending = !finalBit;
        } else {
            IscsiTask.R2t r2t = task.r2ts.peekFirst();
            if (r2t == null || r2t.ttt != ttt) {
                return "Data-Out with TTT 0x" + Integer.toHexString(ttt) + ", which names no open R2T of " + task;
            }
            String error = checkSequence(task, "solicited", dataSn, r2t.nextDataSn, offset,
                    r2t.offset + r2t.received, length, r2t.offset + r2t.length);
            if (error != null) {
                return error;
            }
            r2t.nextDataSn++;
            r2t.received += length;
            if (finalBit != (r2t.received == r2t.length)) {
                return "R2T sequence of " + task + " ends at " + r2t.received + " bytes, the R2T asked for "
                        + r2t.length;
            }
            if (finalBit) {
                task.r2ts.pollFirst();
            }
        }
        int wanted = task.transferLength();
        if (offset < wanted) {
            int n = Math.min(length, wanted - offset);
            ByteBuf data = pdu.data();
            task.data().setBytes(offset, data, data.readerIndex(), n);
            task.received += n;
        }
        return null;
    }

    /** DataSN and buffer offset must follow in order; returns what is wrong, or null. */
    private static String checkSequence(IscsiTask task, String kind, int dataSn, int expectedDataSn, int offset,
                                        int expectedOffset, int length, int end) {
        if (dataSn != expectedDataSn) {
            return kind + " Data-Out of " + task + " has DataSN " + Integer.toUnsignedString(dataSn) + ", expected "
                    + expectedDataSn;
        }
        if (offset != expectedOffset || length > end - offset) {
            return kind + " Data-Out of " + task + " at offset " + Integer.toUnsignedString(offset) + " length "
                    + length + ", expected offset " + expectedOffset + " up to " + end;
        }
        return null;
    }

    /** A command finished in the SCSI core (on this event loop). */
    void taskCompleted(IscsiTask task) {
        AbortBarrier drain = task.drainBarrier;
        task.drainBarrier = null;
        if (task.aborted || phase == Phase.CLOSED) {
            discardAborted(task);
        } else {
            task.state = IscsiTask.State.DONE;
            respond(task);
            channel.flush();
        }
        if (drain != null) {
            drain.release();
        }
    }

    /**
     * Holds {@code barrier} until every command of this connection now at {@code unit}'s device
     * has come back (a reload is about to swap or close that device). Runs on this loop.
     */
    void drainUnit(LogicalUnit unit, AbortBarrier barrier) {
        for (IscsiTask task : tasks.values()) {
            if (task.state == IscsiTask.State.EXECUTING && task.itl() != null && task.itl().unit() == unit
                    && task.drainBarrier == null) {
                task.drainBarrier = barrier;
                barrier.hold();
            }
        }
    }

    /** Sends the command's data and status, then forgets it. */
    private void respond(IscsiTask task) {
        tasks.remove(task.itt);
        session.commandEnded();
        ByteBuf data = task.takeData();
        if (task.dropConnection()) {
            if (data != null) {
                data.release();
            }
            String lun = task.itl().unit().name();
            recycle(task);
            close("LUN " + lun + " stayed in standby past standby-busy-max (standby-fallback: drop)");
            return;
        }
        int produced = data == null ? 0 : data.readableBytes();
        if (task.status() == ScsiStatus.GOOD && task.direction() == ScsiCommand.Direction.IN
                && produced > 0 && task.readExpected > 0) {
            sendDataIn(task, data);
        } else {
            if (data != null) {
                data.release();
            }
            sendScsiResponse(task, produced);
        }
        recycle(task);
        if (phase == Phase.LOGGING_OUT && tasks.isEmpty()) {
            sendLogoutResponse(0);
        }
    }

    /**
     * Residual flags (high word) and count (RFC 7143 11.4.5): what the command would move against
     * what the initiator expected. {@code produced} is the data-in the command produced.
     */
    private static long residual(IscsiTask task, int produced) {
        int expected;
        int moved;
        switch (task.direction()) {
            case IN -> {
                expected = task.readExpected;
                moved = produced;
            }
            case OUT -> {
                expected = task.writeExpected;
                moved = task.requestedLength();
            }
            default -> {
                expected = Math.max(task.readExpected, task.writeExpected);
                moved = 0;
            }
        }
        if (task.direction() == ScsiCommand.Direction.IN && task.status() != ScsiStatus.GOOD) {
            return 0;
        }
        if (moved < expected) {
            return ((long) UNDERFLOW << 32) | (expected - moved);
        }
        if (moved > expected) {
            return ((long) OVERFLOW << 32) | (moved - expected);
        }
        return 0;
    }

    /** Data-In PDUs of at most the initiator's MaxRecvDataSegmentLength, status in the last one. */
    private void sendDataIn(IscsiTask task, ByteBuf data) {
        int total = data.readableBytes();
        int send = Math.min(total, task.readExpected);
        long residual = residual(task, total);
        int segment = params.initiatorMaxRecvDataSegmentLength();
        int burst = params.maxBurstLength();
        int offset = 0;
        int burstLeft = burst;
        int base = data.readerIndex();
        while (offset < send) {
            int length = Math.min(Math.min(segment, send - offset), burstLeft);
            boolean last = offset + length == send;
            boolean endOfSequence = last || burstLeft == length;
            int flags = (endOfSequence ? F : 0) | (last ? STATUS_BIT | (int) (residual >>> 32) : 0);
            ByteBuf h = writer.header(Opcode.DATA_IN, flags);
            h.setLong(8, task.lunField);
            h.setInt(16, task.itt);
            h.setInt(20, RESERVED);
            if (last) {
                h.setByte(3, task.status());
                h.setInt(24, statSn++);
                h.setInt(44, (int) residual);
            }
            h.setInt(28, session.expCmdSn());
            h.setInt(32, session.maxCmdSn());
            h.setInt(36, task.dataSn++);
            h.setInt(40, offset);
            writer.send(h, data.retainedSlice(base + offset, length));
            offset += length;
            burstLeft = endOfSequence ? burst : burstLeft - length;
        }
        data.release();
    }

    private void sendScsiResponse(IscsiTask task, int produced) {
        long residual = residual(task, produced);
        ByteBuf h = writer.header(Opcode.SCSI_RESPONSE, F | (int) (residual >>> 32));
        h.setByte(2, 0); // command completed at target
        h.setByte(3, task.status());
        h.setInt(16, task.itt);
        h.setInt(24, statSn++);
        h.setInt(28, session.expCmdSn());
        h.setInt(32, session.maxCmdSn());
        h.setInt(36, task.dataSn + task.nextR2tSn);
        h.setInt(44, (int) residual);
        ByteBuf data = null;
        byte[] sense = task.sense();
        if (sense != null) {
            data = alloc().buffer(2 + sense.length);
            data.writeShort(sense.length);
            data.writeBytes(sense);
        }
        writer.send(h, data);
    }

    // ----- tasks: pooling and aborting -----

    private IscsiTask obtainTask() {
        IscsiTask task = freeTasks.pollFirst();
        return task != null ? task : new IscsiTask(this);
    }

    private void recycle(IscsiTask task) {
        if (freeTasks.size() < 256) {
            freeTasks.addFirst(task);
        }
    }

    /** Forgets a task without answering it; one still at the backend is finished when it returns. */
    private void dropTask(IscsiTask task) {
        if (task.state == IscsiTask.State.EXECUTING) {
            task.aborted = true;
            return;
        }
        parkedReads.remove(task); // it may wait for the socket to drain
        tasks.remove(task.itt);
        if (session != null) {
            session.commandEnded();
        }
        ByteBuf data = task.takeData();
        if (data != null) {
            data.release();
        }
        task.state = IscsiTask.State.DONE;
        recycle(task);
    }

    private void discardAborted(IscsiTask task) {
        ByteBuf data = task.takeData();
        if (data != null) {
            data.release();
        }
        if (tasks.get(task.itt) == task) {
            tasks.remove(task.itt);
        }
        if (session != null && phase != Phase.CLOSED) {
            session.commandEnded();
        }
        task.state = IscsiTask.State.DONE;
        AbortBarrier barrier = task.abortBarrier;
        task.abortBarrier = null;
        recycle(task);
        if (barrier != null) {
            barrier.release();
        }
        if (phase == Phase.LOGGING_OUT && tasks.isEmpty()) {
            sendLogoutResponse(0);
        }
        channel.flush();
    }

    /** Aborts this connection's commands that match; the barrier waits for those at a backend. */
    void abortTasks(Predicate<IscsiTask> which, AbortBarrier barrier) {
        if (phase == Phase.CLOSED) {
            return;
        }
        for (IscsiTask task : new ArrayList<>(tasks.values())) {
            if (!which.test(task) || task.aborted) {
                continue;
            }
            if (task.state == IscsiTask.State.EXECUTING) {
                task.aborted = true;
                task.abortBarrier = barrier;
                barrier.hold();
            } else {
                dropTask(task);
            }
        }
        if (phase == Phase.LOGGING_OUT && tasks.isEmpty()) {
            // A logout waited for these commands: answer it, after the task management response.
            loop.execute(() -> sendLogoutResponse(0));
        }
        channel.flush();
    }

    // ----- task management -----

    private void onTaskManagement(Pdu pdu) {
        if (!inWindow(pdu)) {
            return;
        }
        int function = pdu.flags() & 0x7F;
        int itt = pdu.initiatorTaskTag();
        long lunField = pdu.lunField();
        int lun = LunAddress.decode(lunField);
        ItlNexus nexus = session.discovery() ? null : session.nexus(lun);
        LogicalUnit unit = nexus == null ? null : nexus.unit();
        switch (function) {
            case TMF_ABORT_TASK -> {
                int ref = pdu.word20();
                IscsiTask task = tasks.get(ref);
                if (task == null || task.aborted) {
                    int refCmdSn = pdu.word32();
                    boolean inWindow = refCmdSn - session.expCmdSn() >= 0 && session.maxCmdSn() - refCmdSn >= 0;
                    sendTmfResponse(itt, inWindow ? TMF_COMPLETE : TMF_NO_TASK);
                    return;
                }
                AbortBarrier barrier = new AbortBarrier(() -> onLoop(() -> sendTmfResponse(itt, TMF_COMPLETE)));
                abortTasks(t -> t == task, barrier);
                barrier.arm();
            }
            case TMF_ABORT_TASK_SET -> {
                AbortBarrier barrier = new AbortBarrier(() -> onLoop(() -> sendTmfResponse(itt, TMF_COMPLETE)));
                abortTasks(t -> t.lunField == lunField, barrier);
                barrier.arm();
            }
            case TMF_CLEAR_TASK_SET, TMF_LUN_RESET -> {
                if (unit == null) {
                    sendTmfResponse(itt, TMF_NO_LUN);
                    return;
                }
                SenseCode attention = function == TMF_LUN_RESET ? SenseCode.BUS_DEVICE_RESET
                        : SenseCode.COMMANDS_CLEARED_BY_ANOTHER_INITIATOR;
                log.info("{}: {} on LUN {} ({})", session, function == TMF_LUN_RESET ? "LUN RESET" : "CLEAR TASK SET",
                        lun, unit.name());
                resetUnits(List.of(unit), nexus, attention, itt);
            }
            case TMF_TARGET_WARM_RESET -> {
                if (session.discovery()) {
                    sendTmfResponse(itt, TMF_NOT_SUPPORTED);
                    return;
                }
                log.info("{}: TARGET WARM RESET", session);
                // only the units this initiator sees: a masked LUN is none of its business
                resetUnits(session.units(), null, SenseCode.POWER_ON_RESET, itt);
            }
            case TMF_TASK_REASSIGN -> sendTmfResponse(itt, TMF_NO_REASSIGN);
            default -> sendTmfResponse(itt, TMF_NOT_SUPPORTED);
        }
    }

    /**
     * Aborts every command on the given units, from every session that sees them, then answers the
     * task management request once they are all gone; the other initiators get a unit attention.
     */
    private void resetUnits(List<LogicalUnit> units, ItlNexus issuer, SenseCode attention, int itt) {
        AbortBarrier barrier = new AbortBarrier(() -> onLoop(() -> sendTmfResponse(itt, TMF_COMPLETE)));
        for (IscsiSession other : server.sessions().all()) {
            if (other.discovery()) {
                continue;
            }
            IscsiConnection conn = other.connection();
            barrier.hold();
            conn.execute(() -> {
                conn.abortTasks(t -> t.itl() != null && units.contains(t.itl().unit()), barrier);
                barrier.release();
            });
        }
        for (LogicalUnit unit : units) {
            unit.reset(issuer);
            unit.postUnitAttention(attention, issuer);
        }
        barrier.arm();
    }

    private void onLoop(Runnable r) {
        if (loop.inEventLoop()) {
            r.run();
        } else {
            loop.execute(r);
        }
    }

    private void sendTmfResponse(int itt, int response) {
        if (phase == Phase.CLOSED) {
            return;
        }
        ByteBuf h = writer.header(Opcode.TASK_MGMT_RESPONSE, F);
        h.setByte(2, response);
        h.setInt(16, itt);
        h.setInt(24, statSn++);
        h.setInt(28, session.expCmdSn());
        h.setInt(32, session.maxCmdSn());
        writer.send(h, null);
        channel.flush();
    }

    // ----- NOP -----

    private void onNopOut(Pdu pdu) {
        int itt = pdu.initiatorTaskTag();
        if (itt == RESERVED) {
            // The answer to our ping (any PDU already proved the initiator alive).
            if (pdu.word20() == pingTtt) {
                pingTtt = RESERVED;
            }
            return;
        }
        if (!inWindow(pdu)) {
            return;
        }
        ByteBuf h = writer.header(Opcode.NOP_IN, F);
        h.setLong(8, pdu.lunField());
        h.setInt(16, itt);
        h.setInt(20, RESERVED);
        h.setInt(24, statSn++);
        h.setInt(28, session.expCmdSn());
        h.setInt(32, session.maxCmdSn());
        ByteBuf ping = pdu.data();
        int echo = Math.min(ping.readableBytes(), params.initiatorMaxRecvDataSegmentLength());
        writer.send(h, echo == 0 ? null : ping.retainedSlice(ping.readerIndex(), echo));
    }

    /** Periodic: login timeout, and NOP-In pings that find dead initiators. */
    private void tick() {
        long now = System.nanoTime();
        if (phase == Phase.LOGIN) {
            if (now - connectedNanos > server.loginTimeout().toNanos()) {
                close("login not completed within " + server.loginTimeout().toSeconds() + " s");
            }
            return;
        }
        if (phase != Phase.FULL_FEATURE || server.nopInterval().isZero()) {
            return;
        }
        if (pingTtt != RESERVED) {
            if (lastInboundNanos - pingSentNanos > 0) {
                pingTtt = RESERVED; // the initiator spoke since the ping: alive
            } else if (now - pingSentNanos > server.nopTimeout().toNanos()) {
                close("no answer to NOP-In for " + server.nopTimeout().toSeconds() + " s");
            }
            return;
        }
        if (now - lastInboundNanos >= server.nopInterval().toNanos()) {
            pingTtt = newTtt();
            pingSentNanos = now;
            ByteBuf h = writer.header(Opcode.NOP_IN, F);
            h.setInt(16, RESERVED);
            h.setInt(20, pingTtt);
            h.setInt(24, statSn); // a ping is not a response: StatSN does not advance
            h.setInt(28, session.expCmdSn());
            h.setInt(32, session.maxCmdSn());
            writer.send(h, null);
            channel.flush();
        }
    }

    private int newTtt() {
        int ttt = nextTtt++;
        if (nextTtt == RESERVED) {
            nextTtt = 1;
        }
        return ttt;
    }

    // ----- text (SendTargets) -----

    private void onText(Pdu pdu) {
        if (!inWindow(pdu)) {
            return;
        }
        int itt = pdu.initiatorTaskTag();
        int ttt = pdu.word20();
        if (ttt != RESERVED) {
            if (ttt != pendingTextTtt || pendingText == null) {
                throw new ProtocolViolation("Text Request continues an unknown exchange (TTT 0x"
                        + Integer.toHexString(ttt) + ")");
            }
            sendTextChunk(itt);
            return;
        }
        if ((pdu.flags() & CONTINUE) != 0) {
            throw new ProtocolViolation("Text Request split over several PDUs is not supported");
        }
        TextKeys request;
        try {
            request = TextKeys.parse(pdu.data());
        } catch (IllegalArgumentException e) {
            throw new ProtocolViolation(e.getMessage());
        }
        TextKeys response = TextKeys.empty();
        for (TextKeys.Pair pair : request.pairs()) {
            if (pair.key().equals("SendTargets")) {
                sendTargets(pair.value(), response);
            } else {
                response.add(pair.key(), "NotUnderstood");
            }
        }
        if (pendingText != null) {
            pendingText.release();
        }
        pendingText = alloc().buffer();
        response.encode(pendingText);
        sendTextChunk(itt);
    }

    /**
     * SendTargets (RFC 7143 appendix C): every target a discovery session may see, with its portals.
     * A target whose ACL refuses this initiator (or its address) is not shown.
     */
    private void sendTargets(String which, TextKeys response) {
        List<IscsiTarget> listed = new ArrayList<>();
        if (session.discovery()) {
            if (which.equals("All")) {
                listed.addAll(server.directory().all());
            } else if (server.directory().find(which) != null) {
                listed.add(server.directory().find(which));
            }
            listed.removeIf(t -> !t.acl().admits(session.initiatorName(), peerAddress));
        } else if (which.isEmpty() || which.equals("All") || which.equals(session.target().iqn())) {
            listed.add(session.target());
        }
        for (IscsiTarget t : listed) {
            response.add("TargetName", t.iqn());
            for (org.rtarget.config.HostPort portal : server.directory().portals()) {
                response.add("TargetAddress", address(portal) + "," + TargetDirectory.PORTAL_GROUP_TAG);
            }
        }
    }

    /** A portal as the initiator should dial it: a wildcard address becomes the one it reached. */
    private String address(org.rtarget.config.HostPort portal) {
        String host = portal.host();
        if (host.equals("0.0.0.0") || host.equals("::") || host.isEmpty()) {
            InetSocketAddress local = (InetSocketAddress) channel.localAddress();
            host = local.getAddress().getHostAddress();
        }
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + portal.port();
    }

    /** Sends the next part of a pending text response, with C set while more remains. */
    private void sendTextChunk(int itt) {
        int length = Math.min(pendingText.readableBytes(), params.initiatorMaxRecvDataSegmentLength());
        boolean last = length == pendingText.readableBytes();
        pendingTextTtt = last ? RESERVED : newTtt();
        ByteBuf h = writer.header(Opcode.TEXT_RESPONSE, last ? F : CONTINUE);
        h.setInt(16, itt);
        h.setInt(20, pendingTextTtt);
        h.setInt(24, statSn++);
        h.setInt(28, session.expCmdSn());
        h.setInt(32, session.maxCmdSn());
        writer.send(h, pendingText.readRetainedSlice(length));
        if (last) {
            pendingText.release();
            pendingText = null;
        }
    }

    // ----- logout -----

    private void onLogout(Pdu pdu) {
        if (!inWindow(pdu)) {
            return;
        }
        int reason = pdu.flags() & 0x7F;
        logoutItt = pdu.initiatorTaskTag();
        if (reason == 2) {
            sendLogoutResponse(2); // connection recovery is not supported at ErrorRecoveryLevel 0
            return;
        }
        phase = Phase.LOGGING_OUT;
        if (tasks.isEmpty()) {
            sendLogoutResponse(0);
        }
    }

    private void sendLogoutResponse(int response) {
        if (phase == Phase.CLOSED || response == 0 && logoutAnswered) {
            return;
        }
        logoutAnswered |= response == 0;
        ByteBuf h = writer.header(Opcode.LOGOUT_RESPONSE, F);
        h.setByte(2, response);
        h.setInt(16, logoutItt);
        h.setInt(24, statSn++);
        h.setInt(28, session.expCmdSn());
        h.setInt(32, session.maxCmdSn());
        h.setShort(40, 0); // Time2Wait
        h.setShort(42, 0); // Time2Retain
        writer.send(h, null);
        if (response == 0) {
            channel.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        } else {
            channel.flush();
        }
    }

    // ----- reject -----

    private void reject(Pdu pdu, int reason) {
        log.debug("{}: rejecting {} (reason 0x{})", session, pdu, Integer.toHexString(reason));
        ByteBuf h = writer.header(Opcode.REJECT, F);
        h.setByte(2, reason);
        h.setInt(16, RESERVED);
        h.setInt(24, statSn++);
        h.setInt(28, session == null ? 0 : session.expCmdSn());
        h.setInt(32, session == null ? 0 : session.maxCmdSn());
        writer.send(h, pdu.bhs().retainedSlice());
    }

    private static String describe(java.net.SocketAddress address) {
        if (address instanceof InetSocketAddress inet) {
            String host = inet.getAddress() == null ? inet.getHostString() : inet.getAddress().getHostAddress();
            return (host.contains(":") ? "[" + host + "]" : host) + ":" + inet.getPort();
        }
        return String.valueOf(address);
    }

    /** A violation of the protocol by the initiator: at ErrorRecoveryLevel 0 the connection ends. */
    static final class ProtocolViolation extends RuntimeException {
        ProtocolViolation(String message) {
            super(message, null, false, false);
        }
    }

}
