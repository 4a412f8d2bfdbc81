package org.rtarget.backend.posix;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Set;
import java.nio.file.Path;
import org.rtarget.backend.Errno;

/**
 * An open file descriptor and the path it was opened from: the few POSIX calls a block backend
 * needs, with the real errno on failure ({@link PosixException}). EINTR is retried and short
 * transfers are continued, so callers see whole transfers or an errno.
 *
 * <p>Buffers must be native segments (e.g. {@code MemorySegment.ofBuffer} of a direct buffer).
 * The calls block; run them off event-loop threads. Safe for concurrent use: pread and pwrite do
 * not share a file offset.
 */
public final class PosixFile implements AutoCloseable {

    public static final int O_RDONLY = 0;
    public static final int O_RDWR = 2;
    public static final int O_CREAT = 0100;
    public static final int O_CLOEXEC = 02000000;
    public static final int FALLOC_FL_KEEP_SIZE = 0x01;
    public static final int FALLOC_FL_PUNCH_HOLE = 0x02;

    private static final int SEEK_END = 2;
    private static final int SEEK_DATA = 3;
    private static final int SEEK_HOLE = 4;

    private final int fd;
    private final Path path;
    private final String pathText;
    private boolean closed;

    private PosixFile(int fd, Path path) {
        this.fd = fd;
        this.path = path;
        this.pathText = path.toString();
    }

    /** open(2); {@code mode} matters only with {@link #O_CREAT}. */
    public static PosixFile open(Path path, int flags, int mode) throws PosixException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cPath = arena.allocateFrom(path.toString());
            int fd;
            do {
                fd = Posix.open(cPath, flags, mode);
            } while (fd == -Errno.EINTR);
            if (fd < 0) {
                throw new PosixException("open", path.toString(), -fd);
            }
            return new PosixFile(fd, path);
        }
    }

    public int fd() {
        return fd;
    }

    public Path path() {
        return path;
    }

    /**
     * Fills {@code dst} from {@code offset}. Bytes past the end of the file read as zeros, as a
     * hole does (an image shorter than its device reads like a sparse tail).
     */
    public void readFully(MemorySegment dst, long offset) throws PosixException {
        long length = dst.byteSize();
        long done = 0;
        while (done < length) {
            long n = Posix.pread(fd, done == 0 ? dst : dst.asSlice(done), length - done, offset + done);
            if (n > 0) {
                done += n;
            } else if (n == 0) {
                dst.asSlice(done).fill((byte) 0);
                return;
            } else if (n != -Errno.EINTR) {
                throw new PosixException("pread", pathText, (int) -n);
            }
        }
    }

    /** Writes all of {@code src} at {@code offset}. */
    public void writeFully(MemorySegment src, long offset) throws PosixException {
        long length = src.byteSize();
        long done = 0;
        while (done < length) {
            long n = Posix.pwrite(fd, done == 0 ? src : src.asSlice(done), length - done, offset + done);
            if (n > 0) {
                done += n;
            } else if (n == 0) {
                // pwrite of a non-empty buffer to a regular file never writes nothing; do not spin on it
                throw new PosixException("pwrite", pathText, Errno.EIO);
            } else if (n != -Errno.EINTR) {
                throw new PosixException("pwrite", pathText, (int) -n);
            }
        }
    }

    /** fdatasync(2): makes written data durable. */
    public void dataSync() throws PosixException {
        int r;
        do {
            r = Posix.fdatasync(fd);
        } while (r == -Errno.EINTR);
        if (r < 0) {
            throw new PosixException("fdatasync", pathText, -r);
        }
    }

    /** fsync(2): makes data and metadata durable. */
    public void sync() throws PosixException {
        int r;
        do {
            r = Posix.fsync(fd);
        } while (r == -Errno.EINTR);
        if (r < 0) {
            throw new PosixException("fsync", pathText, -r);
        }
    }

    /** The magic number of the file system the file lives on (statfs f_type, e.g. 0x65735546 for FUSE). */
    public long fileSystemType() throws PosixException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(Posix.STATFS_SIZE, 8);
            int r = Posix.fstatfs(fd, buf);
            if (r < 0) {
                throw new PosixException("fstatfs", pathText, -r);
            }
            return buf.get(ValueLayout.JAVA_LONG, 0);
        }
    }

    /**
     * Whether the file lives on storage reached through a daemon or the network (FUSE, NFS, SMB,
     * Ceph, 9P, cluster file systems): there an error such as EIO usually means the storage is
     * unreachable for a while, not that a block went bad.
     */
    public boolean onRemoteStorage() throws PosixException {
        return REMOTE_FILE_SYSTEMS.contains(fileSystemType() & 0xFFFFFFFFL);
    }

    private static final Set<Long> REMOTE_FILE_SYSTEMS = Set.of(
            0x65735546L,  // FUSE (vStorage, bindfs, sshfs, GlusterFS's client ...)
            0x6969L,      // NFS
            0xFF534D42L,  // CIFS
            0xFE534D42L,  // SMB2
            0x517BL,      // SMB
            0x00C36400L,  // Ceph
            0x01021997L,  // 9P
            0x01161970L,  // GFS2
            0x7461636FL,  // OCFS2
            0x47504653L,  // GPFS
            0x0BD00BD0L,  // Lustre
            0x5346414FL); // AFS

    /** ftruncate(2): growing leaves a hole. */
    public void truncate(long length) throws PosixException {
        int r;
        do {
            r = Posix.ftruncate(fd, length);
        } while (r == -Errno.EINTR);
        if (r < 0) {
            throw new PosixException("ftruncate", pathText, -r);
        }
    }

    /**
     * The size in bytes, by lseek(SEEK_END) rather than fstat: it also gives the size of a block
     * device, where st_size is 0. (pread and pwrite ignore the file offset it moves.)
     */
    public long size() throws PosixException {
        long r = Posix.lseek(fd, 0, SEEK_END);
        if (r < 0) {
            throw new PosixException("lseek", pathText, (int) -r);
        }
        return r;
    }

    /**
     * The next offset at or after {@code offset} that holds data (lseek SEEK_DATA), or -1 if only
     * a hole follows.
     */
    public long nextData(long offset) throws PosixException {
        return seek(offset, SEEK_DATA);
    }

    /** The next hole at or after {@code offset} (lseek SEEK_HOLE); the end of the file counts as one. */
    public long nextHole(long offset) throws PosixException {
        return seek(offset, SEEK_HOLE);
    }

    private long seek(long offset, int whence) throws PosixException {
        long r = Posix.lseek(fd, offset, whence);
        if (r == -Errno.ENXIO) {
            return -1;
        }
        if (r < 0) {
            throw new PosixException("lseek", pathText, (int) -r);
        }
        return r;
    }

    /** fallocate(2), e.g. {@code FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE} to release space. */
    public void fallocate(int mode, long offset, long length) throws PosixException {
        int r;
        do {
            r = Posix.fallocate(fd, mode, offset, length);
        } while (r == -Errno.EINTR);
        if (r < 0) {
            throw new PosixException("fallocate", pathText, -r);
        }
    }

    /** Zeros are written at most this many bytes at a time where fallocate is missing. */
    private static final int ZERO_CHUNK = 1 << 20;

    /**
     * Makes {@code length} bytes at {@code offset} allocated and reading as zeros: fallocate(2),
     * which extends the file without writing; where the filesystem has none (EOPNOTSUPP, e.g.
     * bindfs and other FUSE filesystems) the zeros are written.
     */
    public void allocateZeroed(long offset, long length) throws PosixException {
        try {
            fallocate(0, offset, length);
            return;
        } catch (PosixException e) {
            if (e.errno() != Errno.EOPNOTSUPP) {
                throw e;
            }
        }
        writeZeros(offset, length);
    }

    /** Writes {@code length} zero bytes at {@code offset}. */
    public void writeZeros(long offset, long length) throws PosixException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment zeros = arena.allocate(Math.min(length, ZERO_CHUNK));
            for (long done = 0; done < length; ) {
                long n = Math.min(zeros.byteSize(), length - done);
                writeFully(zeros.asSlice(0, n), offset + done);
                done += n;
            }
        }
    }

    /**
     * close(2), once; later calls do nothing. Not retried on EINTR: Linux has released the
     * descriptor by then, and a retry could close a descriptor another thread just opened.
     */
    @Override
    public synchronized void close() throws PosixException {
        if (closed) {
            return;
        }
        closed = true;
        int r = Posix.close(fd);
        if (r < 0 && r != -Errno.EINTR) {
            throw new PosixException("close", pathText, -r);
        }
    }

    @Override
    public String toString() {
        return pathText + " (fd " + fd + ")";
    }
}
