package org.rtarget.server.scsi;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import org.rtarget.backend.IoCallback;
import org.rtarget.backend.IoFailure;

/**
 * One SCSI command as the SCSI core sees it. The transport (the iSCSI task) extends this class, so
 * a command is a single object from the wire to the backend and back: it is the backend's
 * {@link IoCallback} too.
 *
 * <p>Life: the transport fills {@link #cdb}, {@link #expectedLength} and {@link #itl}, calls
 * {@link ScsiCore#setup}; for a write it gathers {@link #transferLength()} bytes into
 * {@link #setData}; then {@link ScsiCore#execute}. When the command is done, the core calls
 * {@link #commandDone()} (from any thread) with {@link #status()}, {@link #sense()} and, for a read,
 * {@link #data()} set.
 */
public abstract class ScsiCommand implements IoCallback {

    /** Which way data moves for this command. */
    public enum Direction { NONE, IN, OUT }

    // Set by the transport before setup.
    protected ByteBuf cdb;
    protected int expectedLength;
    protected ItlNexus itl;

    // Set by the core.
    ScsiOp op;
    Direction direction = Direction.NONE;
    int transferLength;
    int requestedLength;
    long lba;
    int blocks;
    boolean fua;
    boolean unmapBit;
    int stage;
    /** How far a command that runs in several backend steps has come (e.g. blocks written). */
    int progress;
    ByteBuf data;
    ByteBuf verifyBuffer;
    boolean dropConnection;
    /** The standby gate's in-flight generation while the command is counted at its LUN, else -1. */
    int inFlightGeneration = -1;
    /** The gate's epoch when the command went to the device: a later one means its storage was replaced. */
    int epoch;
    /** The LUN's writeback error count when the command went to the device. */
    long writebackErrors;
    /** The backend step under way is a flush: its failure is a writeback error, never BUSY. */
    boolean flushing;
    long startNanos;
    int status;
    byte[] sense;

    /** Clears the core's state so the transport may reuse this object for another command. */
    protected void resetScsiState() {
        cdb = null;
        itl = null;
        op = null;
        direction = Direction.NONE;
        transferLength = 0;
        requestedLength = 0;
        lba = 0;
        blocks = 0;
        fua = false;
        unmapBit = false;
        stage = 0;
        progress = 0;
        data = null;
        verifyBuffer = null;
        dropConnection = false;
        inFlightGeneration = -1;
        epoch = 0;
        writebackErrors = 0;
        flushing = false;
        status = ScsiStatus.GOOD;
        sense = null;
        expectedLength = 0;
    }

    /** The direction the CDB asks for (valid after setup). */
    public final Direction direction() {
        return direction;
    }

    /** The number of bytes this command moves (valid after setup). */
    public final int transferLength() {
        return transferLength;
    }

    /**
     * The number of bytes the CDB asked to move. It exceeds {@link #transferLength()} when a write
     * offered less data than its CDB names: then only the whole blocks offered are written and the
     * transport reports the rest as residual overflow.
     */
    public final int requestedLength() {
        return requestedLength;
    }

    /** Data-in produced by the core, or data-out handed in by the transport. */
    public final ByteBuf data() {
        return data;
    }

    /** Hands over the gathered data-out (the core releases it). */
    public final void setData(ByteBuf data) {
        this.data = data;
    }

    /** Takes ownership of the data buffer away from the command (the transport releases it). */
    public final ByteBuf takeData() {
        ByteBuf d = data;
        data = null;
        return d;
    }

    public final int status() {
        return status;
    }

    /** Fixed-format sense data for CHECK CONDITION, or null. Shared arrays: do not modify. */
    public final byte[] sense() {
        return sense;
    }

    /**
     * Set instead of an answer when the LUN's standby fallback is to drop the initiator's
     * connection: the transport closes it and sends nothing.
     */
    public final boolean dropConnection() {
        return dropConnection;
    }

    public final ItlNexus itl() {
        return itl;
    }

    public final ByteBuf cdb() {
        return cdb;
    }

    /** The operation's name for logs (after setup), or the raw opcode. */
    public final String opName() {
        return op != null ? op.name() : cdb == null ? "?" : String.format("opcode 0x%02x", cdb.getUnsignedByte(cdb.readerIndex()));
    }

    /** Whether the operation touches the medium (the standby gate's concern). */
    public final boolean mediaAccess() {
        return op != null && op.mediaAccess();
    }

    /** The allocator for data-in buffers (pooled direct buffers of the connection). */
    protected abstract ByteBufAllocator alloc();

    /** How many commands the initiator has outstanding on this session (for BUSY vs TASK SET FULL). */
    protected abstract int outstandingCommands();

    /** The command is complete; the transport sends the response. May be called from any thread. */
    protected abstract void commandDone();

    /**
     * The transport refuses the command before setup because the initiator has more commands
     * outstanding than the task set holds (immediate commands are outside the CmdSN window): TASK SET
     * FULL, no sense.
     */
    public final void taskSetFull() {
        statusOnly(ScsiStatus.TASK_SET_FULL);
    }

    /** The transport ends the command itself (e.g. its data phase went wrong): CHECK CONDITION. */
    protected final void terminate(SenseCode code) {
        releaseData();
        checkCondition(code);
    }

    // ----- completion from the backend (any thread) -----

    @Override
    public final void completed() {
        ScsiCore.ioCompleted(this);
    }

    @Override
    public final void failed(IoFailure failure) {
        ScsiCore.ioFailed(this, failure);
    }

    // ----- results, used by the core -----

    final void good() {
        status = ScsiStatus.GOOD;
        sense = null;
    }

    final void checkCondition(SenseCode code) {
        status = ScsiStatus.CHECK_CONDITION;
        sense = code.fixedSense();
    }

    final void checkCondition(byte[] senseData) {
        status = ScsiStatus.CHECK_CONDITION;
        sense = senseData;
    }

    final void statusOnly(int scsiStatus) {
        status = scsiStatus;
        sense = null;
    }

    /** Releases the data buffer, if any. */
    final void releaseData() {
        if (data != null) {
            data.release();
            data = null;
        }
    }

    final int cdbByte(int i) {
        return cdb.getUnsignedByte(cdb.readerIndex() + i);
    }

    final int cdbShort(int i) {
        return cdb.getUnsignedShort(cdb.readerIndex() + i);
    }

    final int cdbMedium(int i) {
        return cdb.getUnsignedMedium(cdb.readerIndex() + i);
    }

    final long cdbInt(int i) {
        return cdb.getUnsignedInt(cdb.readerIndex() + i);
    }

    final long cdbLong(int i) {
        return cdb.getLong(cdb.readerIndex() + i);
    }
}
