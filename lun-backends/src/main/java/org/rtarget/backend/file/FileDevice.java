package org.rtarget.backend.file;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import org.rtarget.backend.BlockDevice;
import org.rtarget.backend.Errno;
import org.rtarget.backend.ExtentCallback;
import org.rtarget.backend.IoCallback;
import org.rtarget.backend.IoFailure;
import org.rtarget.backend.StorageEvents;
import org.rtarget.backend.posix.PosixException;
import org.rtarget.backend.posix.PosixFile;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A raw image file served as a block device (kind "file").
 *
 * <p>I/O runs as blocking pread/pwrite/fdatasync (through {@link PosixFile}, so failures keep their
 * real errno) on the executor given at open, and completes through the callback on that executor's
 * thread. Direct buffers are handed to the kernel as they are; a heap buffer is copied through a
 * temporary native buffer. Buffers are used from position to limit and their position is not moved.
 *
 * <p>Unmap punches a hole (fallocate PUNCH_HOLE|KEEP_SIZE). Whether the filesystem can is probed at
 * open: if it cannot, {@link #thinProvisioned()} is false and unmap fails UNSUPPORTED. Zeros are
 * never written instead: initiators discard whole devices (mkfs does), and writing zeros would
 * turn a sparse image into a fully allocated one, slowly.
 *
 * <p>Standby capable: after the storage under the file fails (a dead FUSE daemon answers ENOTCONN,
 * which becomes an UNAVAILABLE failure), the operator repairs it and calls {@link #recover}, which
 * reopens the image and signals {@link StorageEvents#storageRecovered()}.
 */
public final class FileDevice implements BlockDevice {

    private static final Logger log = LoggerFactory.getLogger(FileDevice.class);
    private static final int CREATE_MODE = 0644;
    private static final int PUNCH_HOLE = PosixFile.FALLOC_FL_PUNCH_HOLE | PosixFile.FALLOC_FL_KEEP_SIZE;

    /** Grows on {@link #resize}; never shrinks under an initiator. */
    private volatile long size;
    private final int blockSize;
    private final boolean readOnly;
    private final boolean canPunchHoles;
    private final Executor ioExecutor;

    /** The file requests go to; replaced by {@link #recover}, null once closed. */
    private volatile OpenImage image;
    private volatile Path path;
    private volatile StorageEvents events = StorageEvents.NONE;

    private FileDevice(OpenImage image, long size, int blockSize, boolean readOnly, boolean canPunchHoles,
            Executor ioExecutor) {
        this.image = image;
        this.path = image.file().path();
        this.size = size;
        this.blockSize = blockSize;
        this.readOnly = readOnly;
        this.canPunchHoles = canPunchHoles;
        this.ioExecutor = ioExecutor;
    }

    /**
     * Opens (or creates) the image.
     *
     * <ul>
     *   <li>A missing file is created sparse at {@code sizeBytes}, with its parent directories
     *       (never when read-only, nor without a size).
     *   <li>An existing file smaller than {@code sizeBytes} is grown sparse; a larger one exports its
     *       first {@code sizeBytes}.
     *   <li>{@code sizeBytes == 0} exports the file's size, rounded down to whole blocks.
     * </ul>
     *
     * @param sizeBytes the exported size, a multiple of {@code blockSize}; 0 = the file's size
     * @param blockSize logical block size, a power of two from 512 to 65536
     * @param ioExecutor runs the blocking file calls and the completions
     * @throws IOException naming the file and what is wrong when it cannot be served
     */
    public static FileDevice open(Path path, long sizeBytes, int blockSize, boolean readOnly, Executor ioExecutor)
            throws IOException {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(ioExecutor, "ioExecutor");
        if (blockSize < 512 || blockSize > 65536 || Integer.bitCount(blockSize) != 1) {
            throw new IllegalArgumentException("block size must be a power of two from 512 to 65536, not " + blockSize);
        }
        if (sizeBytes < 0 || sizeBytes % blockSize != 0) {
            throw new IllegalArgumentException("size of image " + path + " must be a multiple of the block size "
                    + blockSize + ", not " + sizeBytes);
        }
        if (Files.isDirectory(path)) {
            // open(O_RDONLY) would succeed on a directory and reads fail later: say it now
            throw new IOException("image " + path + " is a directory, not a file");
        }
        PosixFile file = openOrCreate(path, sizeBytes, readOnly);
        try {
            long fileSize = file.size();
            long exported;
            if (sizeBytes == 0) {
                exported = fileSize - fileSize % blockSize;
                if (exported == 0) {
                    throw new IOException("image " + path + " is " + fileSize + " bytes, less than one block of "
                            + blockSize + " bytes; give a size to grow it");
                }
            } else {
                if (fileSize < sizeBytes) {
                    if (readOnly) {
                        throw new IOException("image " + path + " is " + fileSize + " bytes, smaller than the configured "
                                + sizeBytes + ", and read-only, so it cannot be grown");
                    }
                    grow(file, sizeBytes);
                }
                exported = sizeBytes;
            }
            boolean canPunchHoles = !readOnly && probePunchHole(file, Math.max(fileSize, exported));
            FileDevice device = new FileDevice(new OpenImage(file), exported, blockSize, readOnly, canPunchHoles,
                    ioExecutor);
            log.info("opened image {}: {} bytes in blocks of {}{}{}", path, exported, blockSize,
                    readOnly ? ", read-only" : "", canPunchHoles ? "" : ", no hole punching (unmap unsupported)");
            return device;
        } catch (IOException | RuntimeException e) {
            closeQuietly(file);
            throw e;
        }
    }

    private static PosixFile openOrCreate(Path path, long sizeBytes, boolean readOnly) throws IOException {
        int flags = (readOnly ? PosixFile.O_RDONLY : PosixFile.O_RDWR) | PosixFile.O_CLOEXEC;
        try {
            return PosixFile.open(path, flags, 0);
        } catch (PosixException e) {
            if (e.errno() != Errno.ENOENT) {
                throw cannotOpen(path, e);
            }
        }
        if (readOnly) {
            throw new IOException("image " + path + " does not exist (a read-only image is never created)");
        }
        if (sizeBytes == 0) {
            throw new IOException("image " + path + " does not exist, and no size is configured to create it");
        }
        Path parent = path.toAbsolutePath().getParent();
        if (parent != null) {
            try {
                Files.createDirectories(parent);
            } catch (IOException e) {
                throw new IOException("cannot create the directory " + parent + " for image " + path + ": " + e, e);
            }
        }
        PosixFile file;
        try {
            file = PosixFile.open(path, flags | PosixFile.O_CREAT, CREATE_MODE);
        } catch (PosixException e) {
            throw cannotOpen(path, e);
        }
        try {
            grow(file, sizeBytes);
        } catch (IOException e) {
            closeQuietly(file);
            throw e;
        }
        log.info("created sparse image {} of {} bytes", path, sizeBytes);
        return file;
    }

    private static void grow(PosixFile file, long sizeBytes) throws IOException {
        try {
            file.truncate(sizeBytes);
        } catch (PosixException e) {
            throw new IOException("cannot grow image " + file.path() + " to " + sizeBytes + " bytes: "
                    + Errno.name(e.errno()), e);
        }
    }

    /** Punches a hole past the end of the file, where there is no data to lose, to learn whether holes work. */
    private static boolean probePunchHole(PosixFile file, long endOfFile) {
        try {
            file.fallocate(PUNCH_HOLE, endOfFile, 1);
            return true;
        } catch (PosixException e) {
            log.debug("{} cannot punch holes: {}", file.path(), e.getMessage());
            return false;
        }
    }

    private static IOException cannotOpen(Path path, PosixException e) {
        return new IOException("cannot open image " + path + ": " + Errno.name(e.errno()), e);
    }

    private static void closeQuietly(PosixFile file) {
        try {
            file.close();
        } catch (PosixException e) {
            log.debug("closing {} failed: {}", file, e.getMessage());
        }
    }

    /** The image file currently served (the replacement after a {@link #recover} onto another path). */
    public Path path() {
        return path;
    }

    public boolean readOnly() {
        return readOnly;
    }

    @Override
    public long size() {
        return size;
    }

    /** Grows the exported size (and the file, sparse, if it is smaller). */
    @Override
    public synchronized void resize(long newSize) throws IOException {
        if (newSize < size || newSize % blockSize != 0) {
            throw new IOException("image " + path + " can only grow, in whole blocks: " + size + " -> " + newSize);
        }
        if (readOnly) {
            throw new IOException("image " + path + " is read-only: it cannot grow");
        }
        OpenImage current = acquire();
        if (current == null) {
            throw new IOException("image " + path + " is closed");
        }
        try {
            if (current.file().size() < newSize) {
                grow(current.file(), newSize);
            }
        } catch (PosixException e) {
            throw new IOException("cannot read the size of image " + path + ": " + Errno.name(e.errno()), e);
        } finally {
            current.release();
        }
        log.info("image {} grown from {} to {} bytes", path, size, newSize);
        size = newSize;
    }

    @Override
    public int blockSize() {
        return blockSize;
    }

    @Override
    public String kind() {
        return "file";
    }

    @Override
    public boolean standbyCapable() {
        return true;
    }

    @Override
    public boolean thinProvisioned() {
        return canPunchHoles;
    }

    @Override
    public void attach(StorageEvents events) {
        this.events = Objects.requireNonNull(events, "events");
    }

    /** Filesystems free whole blocks of their own; 4 KiB is the common one. */
    @Override
    public int unmapGranularity() {
        return Math.max(4096, blockSize);
    }

    @Override
    public void read(long offset, ByteBuffer dst, IoCallback callback) {
        int length = dst.remaining();
        if (!inRange(offset, length)) {
            callback.failed(outOfRange("read", offset, length));
            return;
        }
        submit(() -> complete(callback, readNow(offset, dst, length)), callback);
    }

    @Override
    public void write(long offset, ByteBuffer src, IoCallback callback) {
        int length = src.remaining();
        if (readOnly) {
            callback.failed(readOnlyFailure("write"));
        } else if (!inRange(offset, length)) {
            callback.failed(outOfRange("write", offset, length));
        } else {
            submit(() -> complete(callback, writeNow(offset, src, length)), callback);
        }
    }

    @Override
    public void flush(IoCallback callback) {
        if (readOnly) {
            callback.completed(); // nothing was written through this device
        } else {
            submit(() -> complete(callback, flushNow()), callback);
        }
    }

    @Override
    public void unmap(long offset, long length, IoCallback callback) {
        if (readOnly) {
            callback.failed(readOnlyFailure("unmap"));
        } else if (!inRange(offset, length)) {
            callback.failed(outOfRange("unmap", offset, length));
        } else if (!canPunchHoles) {
            callback.failed(IoFailure.of(IoFailure.Kind.UNSUPPORTED, Errno.EOPNOTSUPP,
                    "the filesystem of image " + path + " cannot punch holes"));
        } else if (length == 0) {
            callback.completed();
        } else {
            submit(() -> complete(callback, unmapNow(offset, length)), callback);
        }
    }

    /**
     * Reopens the image, at {@code replacement} or (if null) at the same path, and signals
     * {@link StorageEvents#storageRecovered()}. The new file is opened and checked (readable, at
     * least the exported size: capacity never shrinks under an initiator) before anything changes;
     * if it fails, this throws and the device keeps its old file. Requests in flight finish on the
     * old descriptor, which is closed when the last of them is done; new requests use the new one.
     */
    @Override
    public synchronized void recover(Path replacement) throws IOException {
        if (image == null) {
            throw new IllegalStateException("image " + path + " is closed");
        }
        Path target = replacement != null ? replacement : path;
        if (Files.isDirectory(target)) {
            throw new IOException("image " + target + " is a directory, not a file");
        }
        int flags = (readOnly ? PosixFile.O_RDONLY : PosixFile.O_RDWR) | PosixFile.O_CLOEXEC;
        PosixFile file;
        try {
            file = PosixFile.open(target, flags, 0);
        } catch (PosixException e) {
            throw cannotOpen(target, e);
        }
        try {
            checkUsable(file);
        } catch (IOException | RuntimeException e) {
            closeQuietly(file);
            throw e;
        }
        OpenImage old = image;
        image = new OpenImage(file);
        path = target;
        old.release();
        log.info("recovered image {} (was {})", target, old.file().path());
        events.storageRecovered();
    }

    private void checkUsable(PosixFile file) throws IOException {
        long fileSize;
        try {
            fileSize = file.size();
        } catch (PosixException e) {
            throw new IOException("cannot read the size of image " + file.path() + ": " + Errno.name(e.errno()), e);
        }
        if (fileSize < size) {
            throw new IOException("image " + file.path() + " is " + fileSize + " bytes, smaller than the exported "
                    + size + " bytes");
        }
        try (Arena arena = Arena.ofConfined()) {
            file.readFully(arena.allocate(blockSize), 0);
        } catch (PosixException e) {
            throw new IOException("image " + file.path() + " is not readable: " + Errno.name(e.errno()), e);
        }
    }

    /** Closes the image; requests still in flight finish first, then the descriptor is closed. */
    @Override
    public synchronized void close() {
        OpenImage old = image;
        if (old != null) {
            image = null;
            old.release();
            log.info("closed image {}", path);
        }
    }

    private IoFailure readNow(long offset, ByteBuffer dst, int length) {
        OpenImage current = acquire();
        if (current == null) {
            return closedFailure("read");
        }
        try {
            if (dst.isDirect()) {
                current.file().readFully(MemorySegment.ofBuffer(dst), offset);
            } else {
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment bounce = arena.allocate(length);
                    current.file().readFully(bounce, offset);
                    MemorySegment.copy(bounce, 0, MemorySegment.ofBuffer(dst), 0, length);
                }
            }
            return null;
        } catch (PosixException e) {
            return IoFailure.ofErrno(e.errno(), "read of " + length + " bytes at " + offset + ": " + e.getMessage());
        } catch (RuntimeException e) {
            return unexpected("read", e);
        } finally {
            current.release();
        }
    }

    private IoFailure writeNow(long offset, ByteBuffer src, int length) {
        OpenImage current = acquire();
        if (current == null) {
            return closedFailure("write");
        }
        try {
            if (src.isDirect()) {
                current.file().writeFully(MemorySegment.ofBuffer(src), offset);
            } else {
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment bounce = arena.allocate(length);
                    MemorySegment.copy(MemorySegment.ofBuffer(src), 0, bounce, 0, length);
                    current.file().writeFully(bounce, offset);
                }
            }
            return null;
        } catch (PosixException e) {
            return IoFailure.ofErrno(e.errno(), "write of " + length + " bytes at " + offset + ": " + e.getMessage());
        } catch (RuntimeException e) {
            return unexpected("write", e);
        } finally {
            current.release();
        }
    }

    private IoFailure flushNow() {
        OpenImage current = acquire();
        if (current == null) {
            return closedFailure("flush");
        }
        try {
            current.file().dataSync();
            return null;
        } catch (PosixException e) {
            return IoFailure.ofErrno(e.errno(), "flush: " + e.getMessage());
        } catch (RuntimeException e) {
            return unexpected("flush", e);
        } finally {
            current.release();
        }
    }

    /** Holes in the image are unmapped blocks: found with lseek SEEK_DATA / SEEK_HOLE. */
    @Override
    public void extent(long offset, long limit, ExtentCallback callback) {
        if (!inRange(offset, 0)) {
            callback.failed(outOfRange("extent", offset, limit));
            return;
        }
        try {
            ioExecutor.execute(() -> extentNow(offset, Math.min(limit, size - offset), callback));
        } catch (java.util.concurrent.RejectedExecutionException e) {
            callback.failed(unexpected("extent", e));
        }
    }

    private void extentNow(long offset, long limit, ExtentCallback callback) {
        OpenImage current = acquire();
        if (current == null) {
            callback.failed(closedFailure("extent"));
            return;
        }
        long found;
        boolean mapped;
        try {
            long data = current.file().nextData(offset);
            mapped = data == offset;
            if (mapped) {
                found = current.file().nextHole(offset) - offset;
            } else {
                found = (data < 0 ? size : data) - offset;
            }
        } catch (PosixException e) {
            callback.failed(IoFailure.ofErrno(e.errno(), "extent at " + offset + ": " + e.getMessage()));
            return;
        } catch (RuntimeException e) {
            callback.failed(unexpected("extent", e));
            return;
        } finally {
            current.release();
        }
        callback.found(mapped, Math.max(1, Math.min(found, limit)));
    }

    private IoFailure unmapNow(long offset, long length) {
        OpenImage current = acquire();
        if (current == null) {
            return closedFailure("unmap");
        }
        try {
            current.file().fallocate(PUNCH_HOLE, offset, length);
            return null;
        } catch (PosixException e) {
            return IoFailure.ofErrno(e.errno(), "unmap of " + length + " bytes at " + offset + ": " + e.getMessage());
        } catch (RuntimeException e) {
            return unexpected("unmap", e);
        } finally {
            current.release();
        }
    }

    /** The image to use for one request, with a reference taken; null once the device is closed. */
    private OpenImage acquire() {
        while (true) {
            OpenImage current = image;
            if (current == null || current.tryAcquire()) {
                return current;
            }
            // recover() replaced and released it between our read and our acquire: take the new one
        }
    }

    private void submit(Runnable request, IoCallback callback) {
        try {
            ioExecutor.execute(request);
        } catch (RejectedExecutionException e) {
            callback.failed(IoFailure.of(IoFailure.Kind.INTERNAL, 0,
                    "the I/O executor of image " + path + " refused a request: " + e.getMessage()));
        }
    }

    private static void complete(IoCallback callback, IoFailure failure) {
        if (failure == null) {
            callback.completed();
        } else {
            callback.failed(failure);
        }
    }

    private boolean inRange(long offset, long length) {
        return offset >= 0 && length >= 0 && offset <= size - length;
    }

    private IoFailure outOfRange(String operation, long offset, long length) {
        return IoFailure.of(IoFailure.Kind.INVALID_REQUEST, 0, operation + " of " + length + " bytes at " + offset
                + " is outside image " + path + " of " + size + " bytes");
    }

    private IoFailure readOnlyFailure(String operation) {
        return IoFailure.of(IoFailure.Kind.READ_ONLY, 0, operation + " refused: image " + path + " is read-only");
    }

    private IoFailure closedFailure(String operation) {
        return IoFailure.of(IoFailure.Kind.INTERNAL, 0, operation + " after image " + path + " was closed");
    }

    private IoFailure unexpected(String operation, RuntimeException e) {
        log.warn("{} on image {} failed unexpectedly", operation, path, e);
        return IoFailure.of(IoFailure.Kind.INTERNAL, 0, operation + " on image " + path + " failed: " + e);
    }
}
