package org.rtarget.server.iscsi;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import java.util.ArrayDeque;
import org.rtarget.server.scsi.ScsiCommand;

/**
 * One SCSI command of a connection, from its SCSI Command PDU to its response: the iSCSI side of
 * {@link ScsiCommand}. It tracks the write data still to come (immediate, unsolicited, solicited by
 * R2T) and hops back onto the connection's event loop when the backend completes elsewhere.
 */
final class IscsiTask extends ScsiCommand implements Runnable {

    /** Where the command is in its life. */
    enum State { RECEIVING, EXECUTING, DONE }

    /** An outstanding R2T: one solicited Data-Out sequence. */
    static final class R2t {
        final int ttt;
        final int r2tSn;
        final int offset;
        final int length;
        int received;
        int nextDataSn;

        R2t(int ttt, int r2tSn, int offset, int length) {
            this.ttt = ttt;
            this.r2tSn = r2tSn;
            this.offset = offset;
            this.length = length;
        }
    }

    private final IscsiConnection connection;
    private final ByteBuf cdbBuffer = Unpooled.buffer(16, 16);

    int itt;
    int cmdSn;
    long lunField;
    boolean immediate;
    /** Bytes the initiator expects to read (EDTL if the R bit is set, else 0). */
    int readExpected;
    /** EDTL if the W bit is set, else 0. */
    int writeExpected;
    State state;
    boolean aborted;
    /** Set when a task management function waits for this aborted command to finish. */
    AbortBarrier abortBarrier;
    /** Set when a reload waits for this command to leave its device before swapping or closing it. */
    AbortBarrier drainBarrier;

    // Data-Out gathering.
    int received;
    /** Where unsolicited data ends (immediate data plus the first burst, if one follows). */
    int unsolicitedEnd;
    boolean unsolicitedPending;
    int unsolicitedOffset;
    int unsolicitedDataSn;
    int nextR2tOffset;
    int nextR2tSn;
    final ArrayDeque<R2t> r2ts = new ArrayDeque<>(2);

    /** Data-In PDUs and R2Ts sent: the ExpDataSN of the response. */
    int dataSn;

    IscsiTask(IscsiConnection connection) {
        this.connection = connection;
    }

    /** Prepares this object for a new command. */
    void start(int itt, int cmdSn, long lunField, boolean immediate, ByteBuf cdbBytes) {
        resetScsiState();
        this.itt = itt;
        this.cmdSn = cmdSn;
        this.lunField = lunField;
        this.immediate = immediate;
        this.state = State.RECEIVING;
        this.aborted = false;
        this.abortBarrier = null;
        this.drainBarrier = null;
        this.received = 0;
        this.unsolicitedEnd = 0;
        this.unsolicitedPending = false;
        this.unsolicitedOffset = 0;
        this.unsolicitedDataSn = 0;
        this.nextR2tOffset = 0;
        this.nextR2tSn = 0;
        this.r2ts.clear();
        this.dataSn = 0;
        cdbBuffer.clear();
        cdbBuffer.writeBytes(cdbBytes, cdbBytes.readerIndex(), 16);
        this.cdb = cdbBuffer;
    }

    void transport(int expectedOut, int readExpected, int writeExpected, org.rtarget.server.scsi.ItlNexus itl) {
        this.expectedLength = expectedOut;
        this.readExpected = readExpected;
        this.writeExpected = writeExpected;
        this.itl = itl;
    }

    /** Ends the command before execution with CHECK CONDITION (a broken data phase). */
    void fail(org.rtarget.server.scsi.SenseCode code) {
        terminate(code);
        r2ts.clear();
        unsolicitedPending = false;
        state = State.DONE;
    }

    @Override
    protected ByteBufAllocator alloc() {
        return connection.alloc();
    }

    @Override
    protected int outstandingCommands() {
        return connection.outstandingCommands();
    }

    @Override
    protected void commandDone() {
        if (connection.inEventLoop()) {
            connection.taskCompleted(this);
        } else {
            connection.execute(this);
        }
    }

    /** Runs on the event loop after a completion from a backend thread. */
    @Override
    public void run() {
        connection.taskCompleted(this);
    }

    @Override
    public String toString() {
        return String.format("task itt=0x%08x %s", itt, opName());
    }
}
