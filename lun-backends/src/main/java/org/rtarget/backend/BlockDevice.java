package org.rtarget.backend;

import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * A block device a logical unit is served from: the SPI every backend implements.
 *
 * <p>Every I/O operation is asynchronous: it completes exactly once through its {@link IoCallback},
 * possibly on another thread and possibly before the call returns. Offsets and lengths are in bytes
 * and are already checked against {@link #size()} by the caller. Buffers are read or filled from
 * their position to their limit; the backend does not keep them after completion.
 *
 * <p>A backend knows nothing of SCSI or iSCSI: failures carry an {@link IoFailure} (a class and,
 * where the OS gave one, the errno) and the layers above decide what they mean.
 */
public interface BlockDevice extends AutoCloseable {

    /** Capacity in bytes (a multiple of {@link #blockSize()}). */
    long size();

    /** Logical block size in bytes (512 or 4096). */
    int blockSize();

    /** The backend's kind, as the configuration names it ("memory", "file", ...). */
    String kind();

    /**
     * Whether this backend promises to signal its own recovery (through the {@link StorageEvents}
     * it was attached to) after a storage-unavailable failure. Only such a device may enter standby.
     */
    boolean standbyCapable();

    /** Whether {@link #unmap} really releases space (thin provisioning). */
    default boolean thinProvisioned() {
        return false;
    }

    /** The unit in which {@link #unmap} really releases space, in bytes (reported as optimal unmap granularity). */
    default int unmapGranularity() {
        return blockSize();
    }

    /**
     * Whether unmapped bytes read back as zeros (LBPRZ), so that unmapping may stand in for writing
     * zeros. True for images that punch holes; a driver must say so.
     */
    default boolean unmapReadsZeros() {
        return thinProvisioned();
    }

    /** Whether {@link #writeZeroes} is cheaper than writing a buffer of zeros. */
    default boolean writesZeroes() {
        return false;
    }

    /**
     * Makes {@code length} bytes at {@code offset} read as zeros (only if {@link #writesZeroes}).
     * With {@code mayUnmap} false the blocks stay (or become) allocated, as a WRITE SAME without
     * its UNMAP bit asks (pre-allocating "eager zeroed" disks relies on it).
     */
    default void writeZeroes(long offset, long length, boolean mayUnmap, IoCallback callback) {
        callback.failed(IoFailure.of(IoFailure.Kind.UNSUPPORTED, 0, kind() + " backend has no write-zeroes"));
    }

    /**
     * Whether EIO from this device's storage usually means the storage is unreachable for a while
     * (network or FUSE storage: vStorage returns it for outages) rather than one bad block of a local
     * disk. Decides whether EIO puts the LUN in standby by default.
     */
    default boolean eioMeansOutage() {
        return true;
    }

    /**
     * Whether a device just opened is usable storage at once. A driver-served device is not: it
     * becomes usable when a driver makes it live, and says so through {@link StorageEvents}.
     */
    default boolean readyWhenOpened() {
        return true;
    }

    /** The driver process this device needs, if it is served by one (else null). */
    default DriverHost driverHost() {
        return null;
    }

    /**
     * Facts about the device for the operator (status, admin API), in display order: values are
     * strings, numbers or lists of strings.
     */
    default java.util.Map<String, Object> describe() {
        return java.util.Map.of();
    }

    /**
     * Whether this device holds its storage exclusively (a ploop top delta open read-write, a
     * driver's socket): a new instance over the same storage can open only after this one closed.
     */
    default boolean exclusiveStorage() {
        return false;
    }

    /** Reads {@code dst.remaining()} bytes at {@code offset} into {@code dst}. */
    void read(long offset, ByteBuffer dst, IoCallback callback);

    /** Writes {@code src.remaining()} bytes from {@code src} at {@code offset}. */
    void write(long offset, ByteBuffer src, IoCallback callback);

    /** Makes every completed write durable (fdatasync for files). */
    void flush(IoCallback callback);

    /** Releases {@code length} bytes at {@code offset}; later reads of them return zeros. */
    default void unmap(long offset, long length, IoCallback callback) {
        callback.failed(IoFailure.of(IoFailure.Kind.UNSUPPORTED, 0, kind() + " backend cannot unmap"));
    }

    /**
     * Tells whether the bytes at {@code offset} are mapped (hold data) or unmapped (were never
     * written or were unmapped, and read as zeros), and for how many bytes (at most {@code limit})
     * that stays so. A device that does not track it says: mapped, all of it.
     */
    default void extent(long offset, long limit, ExtentCallback callback) {
        callback.found(true, limit);
    }

    /**
     * Grows the device to {@code newSize} bytes (a live reload that grows a LUN); the data stays.
     *
     * @throws java.io.IOException if the storage cannot grow
     * @throws UnsupportedOperationException if this backend cannot change size while open
     */
    default void resize(long newSize) throws java.io.IOException {
        throw new UnsupportedOperationException(kind() + " backend cannot change size while open");
    }

    /**
     * Takes back a request that has not reached the storage yet (an ABORT TASK, a LUN RESET or a
     * PREEMPT AND ABORT for it). Returns true if the request will never be performed: its callback
     * then fails (or already failed) with {@link IoFailure.Kind#RETRY}. Returns false if the
     * request is already at the storage, done, or unknown: it completes as usual. A device that
     * hands every request to the storage at once cannot cancel anything.
     */
    default boolean cancel(IoCallback callback) {
        return false;
    }

    /**
     * Connects the device to whoever listens for its storage events (the standby gate). Called once
     * before the first I/O.
     */
    default void attach(StorageEvents events) {
    }

    /** Whether {@link #recover} is this device's way back from an outage (an operator's action). */
    default boolean operatorRecovers() {
        return false;
    }

    /**
     * The operator says the storage is back: reopen the image (at {@code replacement} if given, else
     * at the same place) and, on success, signal {@link StorageEvents#storageRecovered()}.
     *
     * @throws java.io.IOException if the storage is still not usable; the device stays as it was
     * @throws UnsupportedOperationException if this backend recovers on its own or cannot recover
     */
    default void recover(Path replacement) throws java.io.IOException {
        throw new UnsupportedOperationException(kind() + " backend has no operator recovery");
    }

    /** Releases the device's resources; no I/O may follow. */
    @Override
    void close();
}
