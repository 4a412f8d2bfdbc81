package org.rtarget.backend.ploop;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Executor;
import org.rtarget.backend.Errno;
import org.rtarget.backend.posix.PosixException;
import org.rtarget.backend.posix.PosixFile;

/**
 * Offline tools on ploop images, for images no server has open (the CLI calls these): create,
 * info, check (and repair), snapshot and merge. Snapshot and merge run the device's own code over
 * the chain, on the calling thread.
 */
public final class PloopImage {

    private static final int O_EXCL = 0200;
    private static final int EEXIST = 17;
    private static final int CREATE_MODE = 0600;
    /** Offline, I/O runs on the caller's thread. */
    private static final Executor CALLER = Runnable::run;

    private PloopImage() {
    }

    /** Creates an empty v2 image with 1 MiB clusters. */
    public static PloopHeader create(Path path, long sizeBytes) throws IOException {
        return create(path, sizeBytes, PloopHeader.DEFAULT_CLUSTER_BYTES);
    }

    /**
     * Creates an empty v2 image: the header, and zeroed BAT clusters (a sparse file, no data
     * clusters). The size may be any multiple of 512; when it is not a multiple of the cluster size
     * the last cluster is partial for the device.
     *
     * @param clusterBytes a power of two from 32 KiB to 64 MiB
     * @throws FileAlreadyExistsException if {@code path} exists (an image is never overwritten)
     */
    public static PloopHeader create(Path path, long sizeBytes, int clusterBytes) throws IOException {
        return create(path, sizeBytes, clusterBytes, FormatVersion.V2);
    }

    /** {@link #create(Path, long, int)} in the given format version (v1 only for old tools; it stops at 2 TiB). */
    public static PloopHeader create(Path path, long sizeBytes, int clusterBytes, FormatVersion version)
            throws IOException {
        return create(path, sizeBytes, clusterBytes, version, false, Progress.NONE);
    }

    /**
     * {@link #create(Path, long, int, FormatVersion)}, and with {@code preallocate} every data
     * cluster allocated up front (ploop's "preallocated" images): cluster i right after the BAT
     * holds virtual cluster i, so the image never grows and writes never allocate. The clusters
     * are reserved with fallocate (zeros written where the filesystem cannot), each batch made
     * durable before the BAT entries that name it; {@code progress} hears of every batch.
     */
    public static PloopHeader create(Path path, long sizeBytes, int clusterBytes, FormatVersion version,
                                     boolean preallocate, Progress progress) throws IOException {
        PloopHeader header = PloopHeader.forNewImage(version, sizeBytes, clusterBytes);
        if (preallocate) {
            long last = header.headerClusters() + Integer.toUnsignedLong(header.batEntries()) - 1;
            if (last > version.maxCluster(header.clusterSectors())) {
                throw new IllegalArgumentException("a preallocated " + version + " image of " + sizeBytes
                        + " bytes would need cluster " + last + ", past what its BAT entries can name");
            }
            header = header.withFlags(header.flags() & ~PloopHeader.FLAG_EMPTY);
        }
        PosixFile file;
        try {
            file = PosixFile.open(path, PosixFile.O_RDWR | PosixFile.O_CREAT | O_EXCL | PosixFile.O_CLOEXEC, CREATE_MODE);
        } catch (PosixException e) {
            if (e.errno() == EEXIST) {
                throw new FileAlreadyExistsException(path.toString(), null, "a ploop image is never overwritten");
            }
            throw new IOException("cannot create ploop image " + path + ": " + Errno.name(e.errno()), e);
        }
        try {
            file.truncate((long) header.headerClusters() * clusterBytes); // the BAT: zeros, as a hole
            DeltaFile.writeHeader(file, header);
            if (preallocate) {
                allocateEveryCluster(file, header, progress);
            }
            file.sync(); // the size too
        } catch (PosixException e) {
            DeltaFile.closeQuietly(file);
            Files.deleteIfExists(path);
            throw new IOException("cannot write ploop image " + path + ": " + e.getMessage(), e);
        }
        DeltaFile.closeQuietly(file);
        syncDirectory(path);
        return header;
    }

    /** Clusters reserved (and their BAT entries written) per step of a preallocation: 256 MiB. */
    private static final long PREALLOCATE_STEP_BYTES = 256L << 20;

    private static void allocateEveryCluster(PosixFile file, PloopHeader header, Progress progress)
            throws PosixException {
        long entries = Integer.toUnsignedLong(header.batEntries());
        int clusterBytes = header.clusterBytes();
        long first = header.headerClusters();
        int step = (int) Math.max(1, PREALLOCATE_STEP_BYTES / clusterBytes);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment slots = arena.allocate((long) step * Integer.BYTES);
            for (long vc = 0; vc < entries; vc += step) {
                int n = (int) Math.min(step, entries - vc);
                file.allocateZeroed((first + vc) * clusterBytes, (long) n * clusterBytes);
                file.dataSync(); // the clusters exist before any BAT entry names them
                for (int i = 0; i < n; i++) {
                    slots.setAtIndex(Bat.SLOT, i, header.version().entryFor(first + vc + i, header.clusterSectors()));
                }
                file.writeFully(slots.asSlice(0, (long) n * Integer.BYTES), Bat.slotOffset(vc));
                progress.update(vc + n, entries);
            }
        }
    }

    /** Makes the new directory entry durable, so a snapshot's file survives a crash with its chain. */
    private static void syncDirectory(Path file) {
        Path dir = file.toAbsolutePath().getParent();
        if (dir == null) {
            return;
        }
        try (PosixFile d = PosixFile.open(dir, PosixFile.O_RDONLY | PosixFile.O_CLOEXEC, 0)) {
            d.sync();
        } catch (PosixException e) {
            // some filesystems refuse fsync on a directory; the file itself is durable
        }
    }

    /** Header facts and allocation of one image; reads the header strictly, the BAT as it is. */
    public static ImageInfo info(Path path) throws IOException {
        PosixFile file;
        try {
            file = PosixFile.open(path, PosixFile.O_RDONLY | PosixFile.O_CLOEXEC, 0);
        } catch (PosixException e) {
            if (e.errno() == Errno.ENOENT) {
                throw new PloopFormatException(path, "does not exist");
            }
            throw new IOException("cannot open ploop image " + path + ": " + Errno.name(e.errno()), e);
        }
        try {
            PloopHeader header = DeltaFile.readHeader(file);
            int[] slots = Bat.readSlots(file, header);
            long allocated = 0;
            for (int vc = 0; vc < header.batEntries(); vc++) {
                if (slots[vc] != 0) {
                    allocated++;
                }
            }
            return new ImageInfo(path, header.version(), header.clusterBytes(), header.sizeBytes(),
                    Integer.toUnsignedLong(header.batEntries()), allocated, header.inUse(), file.size());
        } catch (PosixException e) {
            throw new IOException("cannot read ploop image " + path + ": " + e.getMessage(), e);
        } finally {
            DeltaFile.closeQuietly(file);
        }
    }

    /**
     * Checks an image and, with {@code repair}, fixes what is safe: clears the in-use mark and
     * unallocates BAT entries that point past the end of the file, into the header/BAT, or to a
     * cluster an earlier entry uses. Truncates nothing. See {@link CheckReport}.
     */
    public static CheckReport check(Path path, boolean repair) throws IOException {
        return ImageCheck.check(path, repair);
    }

    /**
     * Adds a new empty top delta at {@code newTop} to a chain no server has open.
     *
     * @return the new chain, base first
     */
    public static List<Path> snapshot(List<Path> chain, Path newTop) throws IOException {
        try (PloopDevice device = PloopDevice.open(chain, false, CALLER)) {
            device.snapshot(newTop);
            return device.deltas();
        }
    }

    /**
     * Merges the top delta of a chain no server has open into the delta below it. The old top is
     * left on disk, marked closed.
     *
     * @return the path of the delta that left the chain
     */
    public static Path merge(List<Path> chain, Progress progress) throws IOException {
        try (PloopDevice device = PloopDevice.open(chain, false, CALLER)) {
            return device.mergeTop(progress);
        }
    }
}
