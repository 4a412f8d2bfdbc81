package org.rtarget.backend.ploop;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.rtarget.backend.Errno;
import org.rtarget.backend.posix.PosixException;
import org.rtarget.backend.posix.PosixFile;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One open delta (image file) of a chain: its descriptor, header, and BAT as physical cluster
 * indices (0 = not allocated). The BAT of a read-only delta never changes; the writable top's is
 * changed only through {@link #setCluster}.
 *
 * <p>Reference counted like the file backend's images: every chain that uses the delta holds one
 * reference, and the descriptor is closed when the last chain using it has no request left. So a
 * swap never closes a descriptor under a request still blocked in it.
 */
final class DeltaFile {

    private static final Logger log = LoggerFactory.getLogger(DeltaFile.class);

    private final Path path;
    private final PosixFile file;
    private final boolean writable;
    private final int[] clusters;
    private final long fileSizeAtOpen;
    private final AtomicInteger references = new AtomicInteger(1);
    private volatile PloopHeader header;

    private DeltaFile(Path path, PosixFile file, boolean writable, PloopHeader header, int[] clusters,
            long fileSize) {
        this.path = path;
        this.file = file;
        this.writable = writable;
        this.header = header;
        this.clusters = clusters;
        this.fileSizeAtOpen = fileSize;
    }

    /**
     * Opens and checks a delta: header, and every BAT entry (inside the file, after the BAT, no
     * cluster used twice). The in-use mark is left as it is (a crashed image opens; see
     * {@link #markInUse}). The caller owns the one reference the new delta has.
     */
    static DeltaFile open(Path path, boolean writable) throws IOException {
        if (Files.isDirectory(path)) {
            throw new PloopFormatException(path, "is a directory, not an image file");
        }
        PosixFile file;
        try {
            file = PosixFile.open(path, (writable ? PosixFile.O_RDWR : PosixFile.O_RDONLY) | PosixFile.O_CLOEXEC, 0);
        } catch (PosixException e) {
            if (e.errno() == Errno.ENOENT) {
                throw new PloopFormatException(path, "does not exist");
            }
            throw new IOException("cannot open ploop image " + path + ": " + Errno.name(e.errno()), e);
        }
        try {
            long fileSize = file.size();
            PloopHeader header = readHeader(file);
            if ((header.flags() & PloopHeader.FLAG_VERSION_CONVERT) != 0) {
                throw new PloopFormatException(path, "is marked as being converted between format versions"
                        + " (CIF_FmtVersionConvert); finish or undo the conversion first");
            }
            int[] slots = Bat.readSlots(file, header);
            int entries = header.batEntries();
            int[] entriesOnly = Arrays.copyOf(slots, entries);
            List<BatScan.Finding> findings = BatScan.scan(header, entriesOnly, fileSize);
            if (!findings.isEmpty()) {
                throw new PloopFormatException(path, "corrupted BAT: " + findings.getFirst().message()
                        + (findings.size() > 1 ? " (and " + (findings.size() - 1) + " more)" : "")
                        + "; run a check with repair");
            }
            int[] clusters = new int[entries];
            for (int vc = 0; vc < entries; vc++) {
                clusters[vc] = (int) header.version().clusterOf(slots[vc], header.clusterSectors());
            }
            return new DeltaFile(path, file, writable, header, clusters, fileSize);
        } catch (PosixException e) {
            closeQuietly(file);
            throw new IOException("cannot read ploop image " + path + ": " + e.getMessage(), e);
        } catch (IOException | RuntimeException e) {
            closeQuietly(file);
            throw e;
        }
    }

    /**
     * A read-only descriptor on this (no longer written) delta, sharing its BAT: how a snapshot
     * turns the old top into a lower level without reading the BAT again.
     */
    DeltaFile reopenReadOnly() throws IOException {
        PosixFile readOnly;
        try {
            readOnly = PosixFile.open(path, PosixFile.O_RDONLY | PosixFile.O_CLOEXEC, 0);
        } catch (PosixException e) {
            throw new IOException("cannot reopen ploop image " + path + " read-only: " + Errno.name(e.errno()), e);
        }
        try {
            PloopHeader onDisk = readHeader(readOnly);
            if (!onDisk.equals(header)) {
                throw new PloopFormatException(path, "changed on disk while open: header is now " + onDisk);
            }
            return new DeltaFile(path, readOnly, false, header, clusters, readOnly.size());
        } catch (IOException | RuntimeException e) {
            closeQuietly(readOnly);
            throw e;
        }
    }

    /** Reads and parses the header at the start of {@code file}, which must hold the whole BAT. */
    static PloopHeader readHeader(PosixFile file) throws PosixException, PloopFormatException {
        try (Arena arena = Arena.ofConfined()) {
            long size = file.size();
            if (size < PloopHeader.SIZE) {
                throw new PloopFormatException(file.path(), "too short for a ploop header: " + size
                        + " bytes, a header has " + PloopHeader.SIZE);
            }
            MemorySegment bytes = arena.allocate(PloopHeader.SIZE);
            file.readFully(bytes, 0);
            PloopHeader header = PloopHeader.parse(file.path(), bytes.asByteBuffer());
            long headerBytes = (long) header.headerClusters() * header.clusterBytes();
            if (size < headerBytes) {
                throw new PloopFormatException(file.path(), "is " + size + " bytes, shorter than its header and BAT ("
                        + headerBytes + " bytes)");
            }
            return header;
        }
    }

    /** Writes {@code header} over the image's header and makes it durable. */
    static void writeHeader(PosixFile file, PloopHeader header) throws PosixException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment bytes = arena.allocate(PloopHeader.SIZE);
            MemorySegment.copy(MemorySegment.ofBuffer(header.encode()), 0, bytes, 0, PloopHeader.SIZE);
            file.writeFully(bytes, 0);
            file.dataSync();
        }
    }

    Path path() {
        return path;
    }

    PosixFile file() {
        return file;
    }

    PloopHeader header() {
        return header;
    }

    int clusterBytes() {
        return header.clusterBytes();
    }

    /** The physical cluster holding virtual cluster {@code vc} in this delta, 0 if it holds none. */
    int cluster(int vc) {
        return clusters[vc];
    }

    /**
     * Where new clusters go: after the end of the file (rounded up: a partial tail cluster is
     * what an interrupted allocation left, and its bytes are not ours to reuse) and after every
     * cluster the BAT names.
     */
    long firstFreeCluster() {
        int clusterBytes = clusterBytes();
        long next = Math.max(header.headerClusters(), (fileSizeAtOpen + clusterBytes - 1) / clusterBytes);
        for (int c : clusters) {
            next = Math.max(next, Integer.toUnsignedLong(c) + 1);
        }
        return next;
    }

    /**
     * Points virtual cluster {@code vc} at physical cluster {@code cluster} (0 = unallocate it), in
     * the file and in memory. Not made durable here: the caller orders it after the data (fdatasync
     * first) and syncs when it needs to.
     */
    void setCluster(int vc, long cluster) throws PosixException {
        if (cluster > header.version().maxCluster(header.clusterSectors())) {
            throw new PosixException("allocate cluster in", path.toString(), Errno.EFBIG);
        }
        Bat.writeSlot(file, vc, header.version().entryFor(cluster, header.clusterSectors()));
        clusters[vc] = (int) cluster;
    }

    /** Sets the in-use mark (and drops CIF_Empty and a format extension, which writing makes stale). */
    void markInUse() throws PosixException {
        PloopHeader opened = header.openedForWriting();
        writeHeader(file, opened);
        header = opened;
    }

    /** Clears the in-use mark: the clean close. Call only when no write is in flight. */
    void markClosed() throws PosixException {
        file.dataSync();
        PloopHeader closed = header.closed();
        writeHeader(file, closed);
        header = closed;
    }

    /** Takes one more reference, for one more chain that uses this delta. The delta must be open. */
    void retain() {
        if (references.getAndIncrement() <= 0) {
            throw new IllegalStateException("delta " + path + " is already closed");
        }
    }

    /** Drops a reference; the last one closes the descriptor. */
    void release() {
        if (references.decrementAndGet() == 0) {
            closeQuietly(file);
        }
    }

    static void closeQuietly(PosixFile file) {
        try {
            file.close();
        } catch (PosixException e) {
            log.debug("closing {} failed: {}", file, e.getMessage());
        }
    }

    @Override
    public String toString() {
        return path + (writable ? " (read-write)" : " (read-only)");
    }
}
