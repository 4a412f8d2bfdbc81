package org.rtarget.backend.ploop;

import java.nio.ByteBuffer;
import java.util.Locale;
import org.rtarget.backend.IoCallback;
import org.rtarget.backend.IoFailure;

/**
 * One block request on its way through the I/O executor. An object rather than a lambda so the
 * device can park it while a snapshot or merge holds I/O, and run it again afterwards.
 */
final class Request implements Runnable {

    enum Operation { READ, WRITE, FLUSH, UNMAP }

    final PloopDevice device;
    final Operation operation;
    final long offset;
    final long length;
    final ByteBuffer buffer;
    final IoCallback callback;

    Request(PloopDevice device, Operation operation, long offset, long length, ByteBuffer buffer,
            IoCallback callback) {
        this.device = device;
        this.operation = operation;
        this.offset = offset;
        this.length = length;
        this.buffer = buffer;
        this.callback = callback;
    }

    @Override
    public void run() {
        device.execute(this);
    }

    void complete(IoFailure failure) {
        if (failure == null) {
            callback.completed();
        } else {
            callback.failed(failure);
        }
    }

    String describe() {
        return operation.name().toLowerCase(Locale.ROOT)
                + (operation == Operation.FLUSH ? "" : " of " + length + " bytes at " + offset);
    }
}
