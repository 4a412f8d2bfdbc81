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
import org.rtarget.backend.IoLane;
import org.rtarget.backend.StorageEvents;
import org.rtarget.backend.posix.PosixException;
import org.rtarget.backend.posix.PosixFile;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A raw image file served as a block device (kind "file").
 *
 * <p>I/O runs as blocking pread/pwrite/fdatasync (through {@link PosixFile}, so failures keep their
 * real errno) on the device's own {@link IoLane} of I/O threads, and completes through the callback
 * on that thread. Direct buffers are handed to the kernel as they are; a heap buffer is copied through a
 * temporary native buffer. Buffers are used from position to limit and their position is not moved.
 *
 * <p>Unmap punches a hole (fallocate PUNCH_HOLE|KEEP_SIZE). Whether the filesystem can is probed at
 * open: if it cannot, {@link #thinProvisioned()} is false and unmap fails UNSUPPORTED. Zeros are
 * never written instead: initiators discard whole devices (mkfs does), and writing zeros would
 * turn a sparse image into a fully allocated one, slowly.
 *
 * <p>Standby capable: after the storage under the file fails (a dead FUSE daemon answers ENOTCONN,
 * which becomes an UNAVAILABLE failure), the operator repairs it and calls {@link #recover}, which
 * reopens the image and signals {@link StorageEvents#storageRecovered()}. A request that was still
 * on the replaced image when it returns fails RETRY, never GOOD: what it did is not where reads
 * look now.
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
    /** EIO from this image's storage means an outage (FUSE or network storage), not a bad block. */
    private final boolean remoteStorage;
    /** This device's share of the I/O threads; replaced by {@link #recover} (see {@link IoLane}). */
    private volatile IoLane lane;

    /** The file requests go to; replaced by {@link #recover}, null once closed. */
    private volatile OpenImage image;
    private volatile Path path;
    private volatile StorageEvents events = StorageEvents.NONE;

    private FileDevice(OpenImage image, long size, int blockSize, boolean readOnly, boolean canPunchHoles,
            boolean remoteStorage, IoLane lane) {
        this.image = image;
        this.path = image.file().path();
        this.size = size;
        this.blockSize = blockSize;
        this.readOnly = readOnly;
        this.canPunchHoles = canPunchHoles;
        this.remoteStorage = remoteStorage;
        this.lane = lane;
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
        return open(path, sizeBytes, blockSize, readOnly, new IoLane(ioExecutor, DEFAULT_IO_THREADS));
    }

    /** At most this many requests of one device at the storage at once, unless told otherwise. */
    public static final int DEFAULT_IO_THREADS = 16;

    /**
     * As {@link #open(Path, long, int, boolean, Executor)}, with the device's own lane of I/O
     * threads (at most {@code lane.limit()} requests at the storage at once).
     */
    public static FileDevice open(Path path, long sizeBytes, int blockSize, boolean readOnly, IoLane lane)
            throws IOException {
        Objects.requireNonNull(lane, "lane");
        Objects.requireNonNull(path, "path");
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
            boolean remote = onRemoteStorage(file);
            FileDevice device = new FileDevice(new OpenImage(file), exported, blockSize, readOnly, canPunchHoles,
                    remote, lane);
            log.info("opened image {}: {} bytes in blocks of {}{}{}{}", path, exported, blockSize,
                    readOnly ? ", read-only" : "", canPunchHoles ? "" : ", no hole punching (unmap unsupported)",
                    remote ? ", on FUSE or network storage" : "");
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

    private static boolean onRemoteStorage(PosixFile file) {
        try {
            return file.onRemoteStorage();
        } catch (PosixException e) {
            return true; // cannot tell: count EIO as an outage, as ploop's standby mode does
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
    public boolean operatorRecovers() {
        return true;
    }

    @Override
    public boolean thinProvisioned() {
        return canPunchHoles;
    }

    @Override
    public boolean eioMeansOutage() {
        return remoteStorage;
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
     * old descriptor, which is closed when the last of them is done, and fail RETRY (their effect is
     * on the old image); new requests use the new one. The caller has synced the old image first
     * (the server's device switch does), since its dirty pages are not the new image's.
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
        IoLane oldLane = lane;
        image = new OpenImage(file);
        path = target;
        // Requests hung on the old image keep their threads; the new image gets a lane of its
        // own, and what still waits in the old lane runs there (on the new image).
        lane = oldLane.fresh();
        oldLane.moveWaitingTo(lane);
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

    /** One blocking call on the image file. */
    @FunctionalInterface
    private interface ImageCall {
        void run(PosixFile file) throws PosixException;
    }

    /** What a request did, for its failure message (built only when it fails). */
    private enum Op { READ, WRITE, FLUSH, UNMAP }

    /**
     * Runs one request on the current image: null on success, else the failure. A request that ran
     * on an image {@link #recover} has replaced meanwhile fails RETRY whatever it did: its effect
     * is on the old image, not where reads now look, and sent again it runs on the new one.
     */
    private IoFailure onImage(Op op, long offset, long length, ImageCall call) {
        OpenImage current = acquire();
        if (current == null) {
            return closedFailure(describe(op, offset, length));
        }
        try {
            call.run(current.file());
            return current == image ? null : superseded(op, offset, length);
        } catch (PosixException e) {
            if (current != image) {
                return superseded(op, offset, length);
            }
            return IoFailure.ofErrno(e.errno(), describe(op, offset, length) + ": " + e.getMessage());
        } catch (RuntimeException e) {
            return unexpected(describe(op, offset, length), e);
        } finally {
            current.release();
        }
    }

    private IoFailure readNow(long offset, ByteBuffer dst, int length) {
        return onImage(Op.READ, offset, length, file -> {
            if (dst.isDirect()) {
                file.readFully(MemorySegment.ofBuffer(dst), offset);
            } else {
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment bounce = arena.allocate(length);
                    file.readFully(bounce, offset);
                    MemorySegment.copy(bounce, 0, MemorySegment.ofBuffer(dst), 0, length);
                }
            }
        });
    }

    private IoFailure writeNow(long offset, ByteBuffer src, int length) {
        return onImage(Op.WRITE, offset, length, file -> {
            if (src.isDirect()) {
                file.writeFully(MemorySegment.ofBuffer(src), offset);
            } else {
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment bounce = arena.allocate(length);
                    MemorySegment.copy(MemorySegment.ofBuffer(src), 0, bounce, 0, length);
                    file.writeFully(bounce, offset);
                }
            }
        });
    }

    private IoFailure flushNow() {
        return onImage(Op.FLUSH, 0, 0, PosixFile::dataSync);
    }

    private IoFailure unmapNow(long offset, long length) {
        return onImage(Op.UNMAP, offset, length, file -> file.fallocate(PUNCH_HOLE, offset, length));
    }

    private static String describe(Op op, long offset, long length) {
        return switch (op) {
            case READ -> "read of " + length + " bytes at " + offset;
            case WRITE -> "write of " + length + " bytes at " + offset;
            case FLUSH -> "flush";
            case UNMAP -> "unmap of " + length + " bytes at " + offset;
        };
    }

    private IoFailure superseded(Op op, long offset, long length) {
        return IoFailure.of(IoFailure.Kind.RETRY, 0, describe(op, offset, length) + " ran on an image of " + path
                + " that was replaced meanwhile");
    }

    /** Holes in the image are unmapped blocks: found with lseek SEEK_DATA / SEEK_HOLE. */
    @Override
    public void extent(long offset, long limit, ExtentCallback callback) {
        if (!inRange(offset, 0)) {
            callback.failed(outOfRange("extent", offset, limit));
            return;
        }
        try {
            lane.execute(() -> extentNow(offset, Math.min(limit, size - offset), callback));
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
            lane.execute(request);
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
