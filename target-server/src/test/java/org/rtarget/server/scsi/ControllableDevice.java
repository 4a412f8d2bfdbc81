package org.rtarget.server.scsi;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;
import org.rtarget.backend.BlockDevice;
import org.rtarget.backend.IoCallback;
import org.rtarget.backend.IoFailure;
import org.rtarget.backend.StorageEvents;
import org.rtarget.backend.memory.MemoryDevice;

/**
 * A memory device a test steers: flushes that fail on demand, a request whose completion is held
 * until the test releases it (storage that stalls, then answers late), and counts of what reached
 * it. Standby capable, like the file backend.
 */
final class ControllableDevice implements BlockDevice {
    private final MemoryDevice memory;
    private final boolean unmapReadsZeros;
    final AtomicInteger flushes = new AtomicInteger();
    final AtomicInteger unmaps = new AtomicInteger();
    private volatile IoFailure flushFailure;
    private volatile int flushFailuresLeft;
    private volatile boolean holdNext;
    private volatile Held held;

    /** A request that reached the device and waits for the test. */
    record Held(Runnable perform, IoCallback callback) {
    }

    ControllableDevice(long size, int blockSize, boolean unmapReadsZeros) {
        this.memory = new MemoryDevice(size, blockSize);
        this.unmapReadsZeros = unmapReadsZeros;
    }

    /** The next {@code count} flushes fail with {@code failure}. */
    void failFlushes(IoFailure failure, int count) {
        flushFailure = failure;
        flushFailuresLeft = count;
    }

    /** The next request is held: it neither runs nor completes until {@link #release}. */
    void holdNext() {
        holdNext = true;
    }

    boolean holding() {
        return held != null;
    }

    /** The held request runs now and completes as it does. */
    void release() {
        Held h = held;
        held = null;
        h.perform().run();
    }

    /** The held request fails now with {@code failure}, without running. */
    void releaseFailing(IoFailure failure) {
        Held h = held;
        held = null;
        h.callback().failed(failure);
    }

    private boolean held(Runnable perform, IoCallback callback) {
        if (!holdNext) {
            return false;
        }
        holdNext = false;
        held = new Held(perform, callback);
        return true;
    }

    @Override
    public long size() {
        return memory.size();
    }

    @Override
    public int blockSize() {
        return memory.blockSize();
    }

    @Override
    public String kind() {
        return "controllable";
    }

    @Override
    public boolean standbyCapable() {
        return true;
    }

    @Override
    public boolean thinProvisioned() {
        return true;
    }

    @Override
    public boolean unmapReadsZeros() {
        return unmapReadsZeros;
    }

    @Override
    public void attach(StorageEvents events) {
    }

    @Override
    public void read(long offset, ByteBuffer dst, IoCallback callback) {
        if (!held(() -> memory.read(offset, dst, callback), callback)) {
            memory.read(offset, dst, callback);
        }
    }

    @Override
    public void write(long offset, ByteBuffer src, IoCallback callback) {
        if (!held(() -> memory.write(offset, src, callback), callback)) {
            memory.write(offset, src, callback);
        }
    }

    @Override
    public void flush(IoCallback callback) {
        Runnable perform = () -> {
            flushes.incrementAndGet();
            if (flushFailuresLeft > 0) {
                flushFailuresLeft--;
                callback.failed(flushFailure);
            } else {
                memory.flush(callback);
            }
        };
        if (!held(perform, callback)) {
            perform.run();
        }
    }

    @Override
    public void unmap(long offset, long length, IoCallback callback) {
        unmaps.incrementAndGet();
        memory.unmap(offset, length, callback);
    }

    @Override
    public void close() {
        memory.close();
    }
}
