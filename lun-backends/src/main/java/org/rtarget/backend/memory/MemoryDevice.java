package org.rtarget.backend.memory;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.rtarget.backend.BlockDevice;
import org.rtarget.backend.ExtentCallback;
import org.rtarget.backend.IoCallback;
import org.rtarget.backend.IoFailure;

/**
 * A sparse disk in memory (kind "memory"): the fast backend for demos and benchmarks.
 *
 * <p>Data lives on the Java heap in 1 MiB chunks allocated on their first write; reading a chunk
 * never written returns zeros and allocates nothing, and unmap drops the chunks it covers whole.
 * The I/O path takes no lock and allocates nothing (chunk allocation aside): chunks sit in an
 * {@link AtomicReferenceArray} and a new one is installed by compare-and-set, so any number of
 * threads may submit at once. Every operation completes synchronously on the calling thread (it is
 * called on Netty event loops). Buffers are used from position to limit and their position is not
 * moved. Concurrent operations on overlapping ranges are unordered, as on a real disk.
 */
public final class MemoryDevice implements BlockDevice {

    static final int CHUNK_SHIFT = 20;
    /** Chunk size in bytes (1 MiB). */
    public static final int CHUNK_SIZE = 1 << CHUNK_SHIFT;

    private static final byte[] ZEROS = new byte[CHUNK_SIZE];

    private volatile long size;
    private final int blockSize;
    /** Replaced (bigger) on resize; chunk allocation and unmapping hold the read lock, resize the write lock. */
    private volatile AtomicReferenceArray<byte[]> chunks;
    private final java.util.concurrent.locks.ReentrantReadWriteLock resizeLock =
            new java.util.concurrent.locks.ReentrantReadWriteLock();
    private final InjectedFailures injected = new InjectedFailures();

    /**
     * @param sizeBytes capacity, a positive multiple of {@code blockSize}
     * @param blockSize logical block size, a power of two from 512 to 65536
     */
    public MemoryDevice(long sizeBytes, int blockSize) {
        if (blockSize < 512 || blockSize > 65536 || Integer.bitCount(blockSize) != 1) {
            throw new IllegalArgumentException("block size must be a power of two from 512 to 65536, not " + blockSize);
        }
        if (sizeBytes <= 0 || sizeBytes % blockSize != 0) {
            throw new IllegalArgumentException(
                    "memory device size must be a positive multiple of the block size " + blockSize + ", not " + sizeBytes);
        }
        long chunkCount = (sizeBytes + CHUNK_SIZE - 1) >>> CHUNK_SHIFT;
        if (chunkCount > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("memory device size " + sizeBytes + " is too large");
        }
        this.size = sizeBytes;
        this.blockSize = blockSize;
        this.chunks = new AtomicReferenceArray<>((int) chunkCount);
    }

    @Override
    public long size() {
        return size;
    }

    /** Grows the device; the data stays (memory LUNs keep their bytes through a reload that grows them). */
    @Override
    public void resize(long newSize) {
        if (newSize < size || newSize % blockSize != 0) {
            throw new IllegalArgumentException("a memory device can only grow, in whole blocks: " + size + " -> " + newSize);
        }
        long chunkCount = (newSize + CHUNK_SIZE - 1) >>> CHUNK_SHIFT;
        if (chunkCount > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("memory device size " + newSize + " is too large");
        }
        resizeLock.writeLock().lock();
        try {
            AtomicReferenceArray<byte[]> old = chunks;
            AtomicReferenceArray<byte[]> grown = new AtomicReferenceArray<>((int) chunkCount);
            for (int i = 0; i < old.length(); i++) {
                grown.set(i, old.get(i));
            }
            chunks = grown;
            size = newSize;
        } finally {
            resizeLock.writeLock().unlock();
        }
    }

    @Override
    public int blockSize() {
        return blockSize;
    }

    @Override
    public String kind() {
        return "memory";
    }

    @Override
    public boolean standbyCapable() {
        return false;
    }

    @Override
    public boolean thinProvisioned() {
        return true;
    }

    /** Only whole chunks are freed; a partial range is zeroed and stays allocated. */
    @Override
    public int unmapGranularity() {
        return CHUNK_SIZE;
    }

    @Override
    public void read(long offset, ByteBuffer dst, IoCallback callback) {
        IoFailure failure = check("read", offset, dst.remaining());
        if (failure != null) {
            callback.failed(failure);
            return;
        }
        int position = dst.position();
        int left = dst.remaining();
        while (left > 0) {
            int index = (int) (offset >>> CHUNK_SHIFT);
            int inChunk = (int) (offset & (CHUNK_SIZE - 1));
            int n = Math.min(left, CHUNK_SIZE - inChunk);
            byte[] chunk = chunks.get(index);
            if (chunk == null) {
                dst.put(position, ZEROS, 0, n);
            } else {
                dst.put(position, chunk, inChunk, n);
            }
            position += n;
            offset += n;
            left -= n;
        }
        callback.completed();
    }

    @Override
    public void write(long offset, ByteBuffer src, IoCallback callback) {
        IoFailure failure = check("write", offset, src.remaining());
        if (failure != null) {
            callback.failed(failure);
            return;
        }
        int position = src.position();
        int left = src.remaining();
        while (left > 0) {
            int index = (int) (offset >>> CHUNK_SHIFT);
            int inChunk = (int) (offset & (CHUNK_SIZE - 1));
            int n = Math.min(left, CHUNK_SIZE - inChunk);
            src.get(position, chunkForWrite(index), inChunk, n);
            position += n;
            offset += n;
            left -= n;
        }
        callback.completed();
    }

    @Override
    public void flush(IoCallback callback) {
        IoFailure failure = injected.next();
        if (failure != null) {
            callback.failed(failure);
        } else {
            callback.completed();
        }
    }

    @Override
    public void unmap(long offset, long length, IoCallback callback) {
        IoFailure failure = check("unmap", offset, length);
        if (failure != null) {
            callback.failed(failure);
            return;
        }
        long end = offset + length;
        while (offset < end) {
            int index = (int) (offset >>> CHUNK_SHIFT);
            int inChunk = (int) (offset & (CHUNK_SIZE - 1));
            int n = (int) Math.min(end - offset, CHUNK_SIZE - inChunk);
            resizeLock.readLock().lock();
            try {
                AtomicReferenceArray<byte[]> current = chunks;
                byte[] chunk = current.get(index);
                if (chunk != null) {
                    if (inChunk == 0 && n == CHUNK_SIZE) {
                        current.set(index, null);
                    } else {
                        Arrays.fill(chunk, inChunk, inChunk + n, (byte) 0);
                    }
                }
            } finally {
                resizeLock.readLock().unlock();
            }
            offset += n;
        }
        callback.completed();
    }

    /** A chunk never written (or unmapped whole) is unmapped; the run ends where that changes. */
    @Override
    public void extent(long offset, long limit, ExtentCallback callback) {
        IoFailure failure = check("extent", offset, 0);
        if (failure != null) {
            callback.failed(failure);
            return;
        }
        long end = Math.min(size, offset + limit);
        boolean mapped = chunks.get((int) (offset >>> CHUNK_SHIFT)) != null;
        long at = offset;
        while (at < end && (chunks.get((int) (at >>> CHUNK_SHIFT)) != null) == mapped) {
            at = ((at >>> CHUNK_SHIFT) + 1) << CHUNK_SHIFT;
        }
        callback.found(mapped, Math.min(at, end) - offset);
    }

    /** Bytes of memory held by written chunks (a multiple of {@link #CHUNK_SIZE}, except the last chunk). */
    public long allocatedBytes() {
        long total = 0;
        for (int i = 0; i < chunks.length(); i++) {
            byte[] chunk = chunks.get(i);
            if (chunk != null) {
                total += chunk.length;
            }
        }
        return total;
    }

    /**
     * For tests only: the next {@code count} read, write, flush and unmap operations fail with
     * {@code failure} without touching the data; a negative {@code count} fails them until
     * {@link #clearInjectedFailures()}, and 0 clears. Lets tests of the layers above (the standby
     * gate, SCSI) see a backend fail on demand.
     */
    public void injectFailures(IoFailure failure, int count) {
        injected.arm(failure, count);
    }

    /** For tests only: stops failing operations armed by {@link #injectFailures}. */
    public void clearInjectedFailures() {
        injected.clear();
    }

    /** Drops all data. */
    @Override
    public void close() {
        for (int i = 0; i < chunks.length(); i++) {
            chunks.set(i, null);
        }
    }

    /** An injected failure, or the range error (the caller checks ranges, this guards memory). */
    private IoFailure check(String operation, long offset, long length) {
        IoFailure failure = injected.next();
        if (failure != null) {
            return failure;
        }
        if (offset < 0 || length < 0 || offset > size - length) {
            return IoFailure.of(IoFailure.Kind.INVALID_REQUEST, 0,
                    operation + " of " + length + " bytes at offset " + offset + " is outside the memory device of "
                            + size + " bytes");
        }
        return null;
    }

    private byte[] chunkForWrite(int index) {
        byte[] chunk = chunks.get(index);
        if (chunk != null) {
            return chunk;
        }
        // Allocation is rare: under the read lock, so a resize copying the chunk table misses none.
        resizeLock.readLock().lock();
        try {
            AtomicReferenceArray<byte[]> current = chunks;
            chunk = current.get(index);
            while (chunk == null) {
                byte[] fresh = new byte[CHUNK_SIZE];
                // a racing writer may have installed one first: use theirs, or retry if unmap dropped it again
                chunk = current.compareAndSet(index, null, fresh) ? fresh : current.get(index);
            }
            return chunk;
        } finally {
            resizeLock.readLock().unlock();
        }
    }
}
