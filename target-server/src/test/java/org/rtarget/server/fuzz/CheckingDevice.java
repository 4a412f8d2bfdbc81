package org.rtarget.server.fuzz;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.rtarget.backend.BlockDevice;
import org.rtarget.backend.ExtentCallback;
import org.rtarget.backend.IoCallback;
import org.rtarget.backend.IoFailure;
import org.rtarget.backend.memory.MemoryDevice;
import org.rtarget.server.scsi.LogicalUnit;

/**
 * A memory device that records every call the SCSI core makes out of range: an offset or length
 * that is negative, not block-aligned, past the capacity, or (for reads and writes) longer than one
 * command may move. The BlockDevice contract says the caller has checked all of that.
 */
final class CheckingDevice implements BlockDevice {
    private final MemoryDevice delegate;
    private final boolean thin;
    final List<String> violations = new CopyOnWriteArrayList<>();
    long reads;
    long writes;
    long unmaps;

    CheckingDevice(long size, int blockSize, boolean thin) {
        this.delegate = new MemoryDevice(size, blockSize);
        this.thin = thin;
    }

    private boolean check(String op, long offset, long length, long maxLength) {
        int bs = delegate.blockSize();
        if (offset < 0 || length < 0 || offset % bs != 0 || length % bs != 0 || length > maxLength
                || offset > delegate.size() || length > delegate.size() - offset) {
            violations.add(op + "(offset " + offset + ", length " + length + ") on a device of " + delegate.size()
                    + " bytes with " + bs + "-byte blocks");
            return false;
        }
        return true;
    }

    @Override
    public long size() {
        return delegate.size();
    }

    @Override
    public int blockSize() {
        return delegate.blockSize();
    }

    @Override
    public String kind() {
        return "checked-memory";
    }

    @Override
    public boolean standbyCapable() {
        return false;
    }

    @Override
    public boolean thinProvisioned() {
        return thin;
    }

    @Override
    public int unmapGranularity() {
        return delegate.unmapGranularity();
    }

    @Override
    public void read(long offset, ByteBuffer dst, IoCallback callback) {
        reads++;
        if (!check("read", offset, dst.remaining(), LogicalUnit.MAX_TRANSFER_BYTES)) {
            callback.failed(IoFailure.of(IoFailure.Kind.INVALID_REQUEST, 0, "out of range"));
            return;
        }
        delegate.read(offset, dst, callback);
    }

    @Override
    public void write(long offset, ByteBuffer src, IoCallback callback) {
        writes++;
        if (!check("write", offset, src.remaining(), LogicalUnit.MAX_TRANSFER_BYTES)) {
            callback.failed(IoFailure.of(IoFailure.Kind.INVALID_REQUEST, 0, "out of range"));
            return;
        }
        delegate.write(offset, src, callback);
    }

    @Override
    public void flush(IoCallback callback) {
        delegate.flush(callback);
    }

    @Override
    public void unmap(long offset, long length, IoCallback callback) {
        unmaps++;
        if (!thin) {
            violations.add("unmap(offset " + offset + ", length " + length + ") on a device that is not thin");
        }
        if (!check("unmap", offset, length, Long.MAX_VALUE)) {
            callback.failed(IoFailure.of(IoFailure.Kind.INVALID_REQUEST, 0, "out of range"));
            return;
        }
        delegate.unmap(offset, length, callback);
    }

    @Override
    public void extent(long offset, long limit, ExtentCallback callback) {
        if (offset < 0 || offset >= delegate.size() || limit <= 0 || limit > delegate.size() - offset) {
            violations.add("extent(offset " + offset + ", limit " + limit + ") on a device of " + delegate.size() + " bytes");
        }
        delegate.extent(offset, limit, callback);
    }

    @Override
    public void close() {
        delegate.close();
    }
}
