package org.rtarget.server;

import java.nio.ByteBuffer;
import org.rtarget.backend.BlockDevice;
import org.rtarget.backend.IoCallback;
import org.rtarget.backend.IoFailure;

/**
 * What a LUN serves from when its storage could not be opened again (a table reload or rebuild
 * while the storage was still down): same size and block size, every request fails as "storage
 * unavailable" (the standby gate answers BUSY), and the next recovery attempt opens the real device
 * from the configuration. Without it the LUN would keep a closed device that nothing can recover.
 */
final class UnavailableDevice implements BlockDevice {
    private final long size;
    private final int blockSize;
    private final String kind;
    private final String why;
    // what the LUN reported while its storage was open: initiators see no change
    private final boolean thin;
    private final boolean unmapReadsZeros;
    private final int unmapGranularity;

    UnavailableDevice(BlockDevice was, String why) {
        this.size = was.size();
        this.blockSize = was.blockSize();
        this.kind = was.kind();
        this.thin = was.thinProvisioned();
        this.unmapReadsZeros = was.unmapReadsZeros();
        this.unmapGranularity = was.unmapGranularity();
        this.why = why;
    }

    @Override
    public boolean thinProvisioned() {
        return thin;
    }

    @Override
    public boolean unmapReadsZeros() {
        return unmapReadsZeros;
    }

    @Override
    public int unmapGranularity() {
        return unmapGranularity;
    }

    private IoFailure unavailable() {
        return IoFailure.of(IoFailure.Kind.UNAVAILABLE, 0, "the " + kind + " storage is not open: " + why);
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public int blockSize() {
        return blockSize;
    }

    @Override
    public String kind() {
        return kind;
    }

    @Override
    public boolean standbyCapable() {
        return true; // the operator's next recovery opens the real device: that is the signal
    }

    @Override
    public void read(long offset, ByteBuffer dst, IoCallback callback) {
        callback.failed(unavailable());
    }

    @Override
    public void write(long offset, ByteBuffer src, IoCallback callback) {
        callback.failed(unavailable());
    }

    @Override
    public void flush(IoCallback callback) {
        callback.failed(unavailable());
    }

    @Override
    public void unmap(long offset, long length, IoCallback callback) {
        callback.failed(unavailable());
    }

    @Override
    public java.util.Map<String, Object> describe() {
        return java.util.Map.of("notOpen", why);
    }

    @Override
    public void close() {
    }
}
