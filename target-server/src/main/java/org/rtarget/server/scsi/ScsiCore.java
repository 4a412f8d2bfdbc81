package org.rtarget.server.scsi;

import org.rtarget.backend.IoFailure;
import org.rtarget.gate.StandbyGate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The SCSI core's entry points: set a command up from its CDB, execute it through the standby gate,
 * and turn a backend completion into SCSI status and sense. Protocol-independent: it never sees a
 * PDU.
 */
public final class ScsiCore {
    private static final Logger log = LoggerFactory.getLogger(ScsiCore.class);
    private static final RateLimitedLog failureLog = new RateLimitedLog(log, 10_000);

    private ScsiCore() {
    }

    /**
     * Decodes the CDB, checks it against the unit and sets direction and transfer length. Returns
     * false if the command is already complete (CHECK CONDITION); the caller then sends the status
     * without moving data.
     */
    public static boolean setup(ScsiCommand c) {
        c.startNanos = System.nanoTime();
        int opcode = c.cdbByte(0);
        ItlNexus itl = c.itl;
        LogicalUnit lu = itl.detached() ? null : itl.unit();
        ScsiOp op = OpcodeTable.lookup(opcode);
        if (lu == null) {
            // No unit here: LUN 0 and every other number still answer INQUIRY, REPORT LUNS and
            // REQUEST SENSE (SPC-4 4.5.1), everything else is LOGICAL UNIT NOT SUPPORTED.
            if (op == null || !OpcodeTable.answersWithoutUnit(op)) {
                c.checkCondition(SenseCode.LUN_NOT_SUPPORTED);
                return false;
            }
            c.op = op;
            return op.setup(null, c);
        }
        if (op == null) {
            c.checkCondition(SenseCode.INVALID_OPCODE);
            return false;
        }
        op = op.resolve(c);
        if (op == null) {
            c.checkCondition(SenseCode.INVALID_FIELD_IN_CDB); // a service action this target lacks
            return false;
        }
        c.op = op;
        if (op.reportsUnitAttention() && itl.hasUnitAttention()) {
            SenseCode ua = itl.takeUnitAttention();
            if (ua != null) {
                c.checkCondition(ua);
                return false;
            }
        }
        // Every reservation rule is in the opcode row; an unreserved unit costs one volatile read.
        if (lu.reservations().conflicts(op, c)) {
            c.statusOnly(ScsiStatus.RESERVATION_CONFLICT);
            return false;
        }
        if (Cdb.controlByteInvalid(c, opcode)) {
            c.checkCondition(SenseCode.INVALID_FIELD_IN_CDB);
            return false;
        }
        boolean accepted = op.setup(lu, c);
        if (c.requestedLength == 0) {
            c.requestedLength = c.transferLength;
        }
        if (accepted) {
            // Refuse during standby before any write data is solicited: the BUSY path stays cheap.
            StandbyGate.Admission admission = admission(lu, c);
            if (admission != StandbyGate.Admission.PASS) {
                answerRefusal(c, admission);
                return false;
            }
        }
        return accepted;
    }

    /** Runs a command that {@link #setup} accepted (for a write, after its data arrived). */
    public static void execute(ScsiCommand c) {
        LogicalUnit lu = c.itl.detached() ? null : c.itl.unit();
        if (lu == null && !OpcodeTable.answersWithoutUnit(c.op)) {
            // The LUN was removed (a reload) while this command waited for its data.
            c.checkCondition(SenseCode.LUN_NOT_SUPPORTED);
            finish(c);
            return;
        }
        if (lu != null && c.op.mediaAccess()) {
            // Counted in before the gate is asked: a device swap pauses the gate, then waits for
            // the commands counted in, so none can slip past it to the old device.
            StandbyGate gate = lu.gate();
            c.inFlightGeneration = gate.begin();
            c.epoch = gate.epoch();
            c.writebackErrors = gate.writebackErrors();
        }
        // Checked again after a write's data arrived: standby may have begun meanwhile.
        if (lu != null && !admitted(lu, c)) {
            return;
        }
        c.op.execute(lu, c);
    }

    /**
     * Asks the standby gate about a command: media-access commands are stopped while the LUN is in
     * standby, TEST UNIT READY follows the fallback once busy-max has passed (see
     * {@link StandbyGate#admitPathCheck()}). Returns false if the command was answered here. The
     * common case, no standby, costs two volatile reads.
     */
    private static boolean admitted(LogicalUnit lu, ScsiCommand c) {
        StandbyGate.Admission admission = admission(lu, c);
        if (admission == StandbyGate.Admission.PASS) {
            return true;
        }
        answerRefusal(c, admission);
        finish(c);
        return false;
    }

    private static StandbyGate.Admission admission(LogicalUnit lu, ScsiCommand c) {
        if (c.op.mediaAccess()) {
            return lu.gate().admit();
        }
        if (c.op == OpcodeTable.TEST_UNIT_READY) {
            return lu.gate().admitPathCheck();
        }
        return StandbyGate.Admission.PASS;
    }

    /** Ends a command: releases data-out, keeps data-in only for GOOD status, tells the transport. */
    static void finish(ScsiCommand c) {
        LogicalUnit lu = c.itl.unit();
        if (lu != null && c.inFlightGeneration >= 0) {
            lu.gate().end(c.inFlightGeneration);
            c.inFlightGeneration = -1;
        }
        if (lu != null && c.op != null && c.op.mediaAccess() && c.direction != ScsiCommand.Direction.NONE) {
            lu.recordLatency(c.direction == ScsiCommand.Direction.IN, System.nanoTime() - c.startNanos);
        }
        if (c.verifyBuffer != null) {
            c.verifyBuffer.release(); // a VERIFY whose read failed
            c.verifyBuffer = null;
        }
        if (c.direction == ScsiCommand.Direction.OUT || c.status != ScsiStatus.GOOD) {
            c.releaseData();
        }
        c.commandDone();
    }

    static void ioCompleted(ScsiCommand c) {
        LogicalUnit lu = c.itl.unit();
        if (c.inFlightGeneration >= 0 && lu.gate().movedSince(c.epoch)) {
            // The LUN's storage moved while this ran: what it read or wrote was the old storage's,
            // not what reads look at now. Not GOOD, not an error: sent again, it runs on the new
            // storage. (A driver's recovery is no move: its re-issued requests are answered as usual.)
            c.flushing = false;
            busy(c);
            finish(c);
            return;
        }
        if (c.flushing) {
            c.flushing = false;
            if (writebackErrorMissed(lu, c)) {
                lu.counters().errors.increment();
                c.checkCondition(SenseCode.WRITE_ERROR);
                finish(c);
                return;
            }
        }
        c.op.ioCompleted(lu, c);
    }

    static void ioFailed(ScsiCommand c, IoFailure failure) {
        LogicalUnit lu = c.itl.unit();
        StandbyGate gate = lu.gate();
        if (failure.kind() == IoFailure.Kind.RETRY) {
            c.flushing = false;
            busy(c); // nothing happened where reads look: the initiator sends it again
        } else if (c.flushing) {
            c.flushing = false;
            // Data acknowledged from the cache may be gone (the kernel may already have dropped
            // it, and a retried flush would then succeed: "fsyncgate"): latched for every
            // initiator that wrote through the cache since its last good flush.
            gate.writebackFailed(failure);
            WritebackState writeback = c.itl.writeback();
            if (!writeback.dirty() && gate.failureMeansBusy(failure, c.epoch)) {
                // Nothing of this initiator's sits in the cache: what this command is to make
                // durable it sends again with the retry (a write's own data), so an outage may
                // still be hidden behind BUSY.
                busy(c);
            } else {
                // Never BUSY: this initiator's cached writes may be lost; it hears it now, once.
                writeback.told(gate.writebackErrors());
                gate.failureSeen(failure, c.epoch); // still an outage for the commands after it
                lu.counters().errors.increment();
                failureLog.warn("LUN {}: {} failed: {}", lu.name(), c.opName(), failure);
                c.checkCondition(SenseCode.WRITE_ERROR);
            }
        } else if (gate.failureMeansBusy(failure, c.inFlightGeneration >= 0 ? c.epoch : gate.epoch())) {
            busy(c);
        } else {
            lu.counters().errors.increment();
            failureLog.warn("LUN {}: {} failed: {}", lu.name(), c.opName(), failure);
            c.checkCondition(senseFor(failure, c.direction == ScsiCommand.Direction.IN));
        }
        finish(c);
    }

    /**
     * Submits a flush for {@code c}: SYNCHRONIZE CACHE, or the step that makes a write durable
     * (FUA, write cache off). Its failure is a writeback error, and its success is checked against
     * the writeback errors this initiator has not heard of yet.
     */
    static void flush(LogicalUnit lu, ScsiCommand c) {
        c.flushing = true;
        lu.device().flush(c);
    }

    /**
     * A write was acknowledged from the write cache: until this initiator's next good flush, a
     * writeback error may concern its data.
     */
    static void cachedWriteDone(ScsiCommand c) {
        c.itl.writeback().wrote(c.writebackErrors);
    }

    /**
     * After a flush succeeded: whether a writeback error happened that may have lost data this
     * initiator wrote (since its first write after its last good flush, or during this very
     * command) and that it has not been told of. Either way it counts as told from now on.
     */
    private static boolean writebackErrorMissed(LogicalUnit lu, ScsiCommand c) {
        long now = lu.gate().writebackErrors();
        boolean missed = c.itl.writeback().flushed(now);
        return missed || (c.inFlightGeneration >= 0 && c.direction == ScsiCommand.Direction.OUT
                && c.writebackErrors != now);
    }

    /** The sense an initiator gets for a backend failure that is not answered with BUSY. */
    static SenseCode senseFor(IoFailure failure, boolean reading) {
        return switch (failure.kind()) {
            case MEDIUM_ERROR -> reading ? SenseCode.UNRECOVERED_READ_ERROR : SenseCode.WRITE_ERROR;
            case NO_SPACE -> SenseCode.SPACE_ALLOCATION_FAILED;
            case READ_ONLY -> SenseCode.WRITE_PROTECTED;
            case UNSUPPORTED -> SenseCode.INVALID_OPCODE;
            case INVALID_REQUEST -> SenseCode.INVALID_FIELD_IN_CDB;
            case TIMEOUT -> SenseCode.COMMUNICATION_TIMEOUT;
            case UNAVAILABLE -> SenseCode.COMMUNICATION_FAILURE;
            case INTERNAL -> SenseCode.INTERNAL_TARGET_FAILURE;
            case RETRY -> throw new IllegalArgumentException("a RETRY failure is answered BUSY, not with sense");
        };
    }

    /** BUSY, or TASK SET FULL when the initiator has other commands outstanding (SCST's rule). */
    static void busy(ScsiCommand c) {
        c.statusOnly(c.outstandingCommands() > 1 ? ScsiStatus.TASK_SET_FULL : ScsiStatus.BUSY);
    }

    /** Sets the answer for a command the gate refused (the caller sends it). */
    private static void answerRefusal(ScsiCommand c, StandbyGate.Admission admission) {
        switch (admission) {
            case BUSY -> busy(c);
            // 04h/0Bh means "ALUA standby" to multipath's checkers (a usable ghost path): only a LUN
            // that reports ALUA may say it; others say 04h/03h, which fails the path over.
            case NOT_READY -> c.checkCondition(c.itl.unit() != null && c.itl.unit().reportsAlua()
                    ? SenseCode.NOT_READY_STANDBY : SenseCode.NOT_READY_MANUAL_INTERVENTION);
            case HARDWARE_ERROR -> c.checkCondition(SenseCode.COMMUNICATION_FAILURE);
            case DROP -> {
                c.statusOnly(ScsiStatus.BUSY);
                c.dropConnection = true; // the transport closes the connection instead of answering
            }
            case PASS -> throw new IllegalStateException();
        }
    }
}
