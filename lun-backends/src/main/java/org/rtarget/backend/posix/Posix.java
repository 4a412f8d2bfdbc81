package org.rtarget.backend.posix;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The raw libc calls, made through the FFM API so that errno survives (FileChannel turns it into
 * locale-dependent text). Each returns the call's result, or {@code -errno} when the call failed,
 * like the kernel does: no exception and no allocation here; {@link PosixFile} adds the meaning.
 */
final class Posix {

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO =
            CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    /** One errno capture buffer per thread, so a call allocates nothing once the thread has one. */
    private static final ThreadLocal<MemorySegment> CAPTURE =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CAPTURE_LAYOUT));

    // open is variadic: the mode travels as the first variadic argument.
    private static final MethodHandle OPEN = downcall("open",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle PREAD = downcall("pread",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle PWRITE = downcall("pwrite",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle FDATASYNC = downcall("fdatasync", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle FSYNC = downcall("fsync", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle FTRUNCATE = downcall("ftruncate",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle LSEEK = downcall("lseek",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT));
    private static final MethodHandle FALLOCATE = downcall("fallocate",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle CLOSE = downcall("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle FSTATFS = downcall("fstatfs", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
    /** sizeof(struct statfs) on 64-bit Linux; f_type is its first field, a long. */
    static final int STATFS_SIZE = 120;

    private Posix() {
    }

    // restricted: needs --enable-native-access=ALL-UNNAMED at run time (a warning without it in JDK 25)
    @SuppressWarnings("restricted")
    private static MethodHandle downcall(String name, FunctionDescriptor descriptor, Linker.Option... extra) {
        Linker.Option[] options = new Linker.Option[extra.length + 1];
        options[0] = Linker.Option.captureCallState("errno");
        System.arraycopy(extra, 0, options, 1, extra.length);
        MemorySegment symbol = LINKER.defaultLookup().find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("libc has no " + name));
        return LINKER.downcallHandle(symbol, descriptor, options);
    }

    private static int errno(MemorySegment capture) {
        return (int) ERRNO.get(capture, 0L);
    }

    /** {@code path} must be a NUL-terminated C string. */
    static int open(MemorySegment path, int flags, int mode) {
        MemorySegment capture = CAPTURE.get();
        try {
            int fd = (int) OPEN.invokeExact(capture, path, flags, mode);
            return fd < 0 ? -errno(capture) : fd;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code buf} must be a native segment of at least {@code count} bytes. */
    static long pread(int fd, MemorySegment buf, long count, long offset) {
        MemorySegment capture = CAPTURE.get();
        try {
            long n = (long) PREAD.invokeExact(capture, fd, buf, count, offset);
            return n < 0 ? -errno(capture) : n;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static long pwrite(int fd, MemorySegment buf, long count, long offset) {
        MemorySegment capture = CAPTURE.get();
        try {
            long n = (long) PWRITE.invokeExact(capture, fd, buf, count, offset);
            return n < 0 ? -errno(capture) : n;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int fdatasync(int fd) {
        MemorySegment capture = CAPTURE.get();
        try {
            int r = (int) FDATASYNC.invokeExact(capture, fd);
            return r < 0 ? -errno(capture) : r;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Fills {@code buf} (at least {@link #STATFS_SIZE} bytes) with the statfs of the file system under {@code fd}. */
    static int fstatfs(int fd, MemorySegment buf) {
        MemorySegment capture = CAPTURE.get();
        try {
            int r = (int) FSTATFS.invokeExact(capture, fd, buf);
            return r < 0 ? -errno(capture) : r;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int fsync(int fd) {
        MemorySegment capture = CAPTURE.get();
        try {
            int r = (int) FSYNC.invokeExact(capture, fd);
            return r < 0 ? -errno(capture) : r;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int ftruncate(int fd, long length) {
        MemorySegment capture = CAPTURE.get();
        try {
            int r = (int) FTRUNCATE.invokeExact(capture, fd, length);
            return r < 0 ? -errno(capture) : r;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static long lseek(int fd, long offset, int whence) {
        MemorySegment capture = CAPTURE.get();
        try {
            long r = (long) LSEEK.invokeExact(capture, fd, offset, whence);
            return r < 0 ? -errno(capture) : r;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int fallocate(int fd, int mode, long offset, long length) {
        MemorySegment capture = CAPTURE.get();
        try {
            int r = (int) FALLOCATE.invokeExact(capture, fd, mode, offset, length);
            return r < 0 ? -errno(capture) : r;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int close(int fd) {
        MemorySegment capture = CAPTURE.get();
        try {
            int r = (int) CLOSE.invokeExact(capture, fd);
            return r < 0 ? -errno(capture) : r;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // invokeExact declares Throwable; a downcall itself throws nothing checked.
    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            throw r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        throw new IllegalStateException("unexpected checked exception from a downcall", t);
    }
}
