package org.rtarget.backend;

import java.util.Locale;
import java.util.Map;

/** Linux errno values the target cares about, with their names for configuration and logs. */
public final class Errno {
    public static final int EPERM = 1;
    public static final int ENOENT = 2;
    public static final int EINTR = 4;
    public static final int EIO = 5;
    public static final int ENXIO = 6;
    public static final int EBADF = 9;
    public static final int EAGAIN = 11;
    public static final int ENOMEM = 12;
    public static final int EACCES = 13;
    public static final int EFAULT = 14;
    public static final int EBUSY = 16;
    public static final int EEXIST = 17;
    public static final int ENODEV = 19;
    public static final int EINVAL = 22;
    public static final int EFBIG = 27;
    public static final int ENOSPC = 28;
    public static final int EROFS = 30;
    public static final int EPIPE = 32;
    public static final int ENODATA = 61;
    public static final int EOPNOTSUPP = 95;
    /** What FUSE gives requests in flight when its daemon dies (later ones get ENOTCONN). */
    public static final int ECONNABORTED = 103;
    public static final int ECONNRESET = 104;
    public static final int ENOTCONN = 107;
    public static final int ESHUTDOWN = 108;
    public static final int ETIMEDOUT = 110;
    public static final int ESTALE = 116;
    public static final int EDQUOT = 122;

    private static final Map<String, Integer> BY_NAME = Map.ofEntries(
            Map.entry("EPERM", EPERM), Map.entry("ENOENT", ENOENT), Map.entry("EINTR", EINTR),
            Map.entry("EIO", EIO), Map.entry("ENXIO", ENXIO), Map.entry("EBADF", EBADF),
            Map.entry("EAGAIN", EAGAIN), Map.entry("ENOMEM", ENOMEM), Map.entry("EACCES", EACCES),
            Map.entry("EFAULT", EFAULT), Map.entry("EBUSY", EBUSY), Map.entry("EEXIST", EEXIST), Map.entry("ENODEV", ENODEV),
            Map.entry("EINVAL", EINVAL), Map.entry("EFBIG", EFBIG), Map.entry("ENOSPC", ENOSPC),
            Map.entry("EROFS", EROFS), Map.entry("EPIPE", EPIPE), Map.entry("ENODATA", ENODATA),
            Map.entry("EOPNOTSUPP", EOPNOTSUPP), Map.entry("ECONNABORTED", ECONNABORTED), Map.entry("ECONNRESET", ECONNRESET),
            Map.entry("ENOTCONN", ENOTCONN), Map.entry("ESHUTDOWN", ESHUTDOWN),
            Map.entry("ETIMEDOUT", ETIMEDOUT), Map.entry("ESTALE", ESTALE), Map.entry("EDQUOT", EDQUOT));

    private Errno() {
    }

    /** The errno for a name such as "ENOTCONN" (any case), or -1 if unknown. */
    public static int byName(String name) {
        Integer value = BY_NAME.get(name.toUpperCase(Locale.ROOT));
        return value == null ? -1 : value;
    }

    /** The symbolic name of an errno, or "errno N". */
    public static String name(int errno) {
        for (Map.Entry<String, Integer> e : BY_NAME.entrySet()) {
            if (e.getValue() == errno) {
                return e.getKey();
            }
        }
        return "errno " + errno;
    }

    /** The failure class an errno belongs to. */
    public static IoFailure.Kind kindOf(int errno) {
        return switch (errno) {
            case EIO, ENODATA -> IoFailure.Kind.MEDIUM_ERROR;
            case EBUSY, ENOTCONN, ENXIO, ENODEV, ESHUTDOWN, ECONNABORTED, ECONNRESET, EPIPE, ESTALE, EAGAIN ->
                    IoFailure.Kind.UNAVAILABLE;
            case ENOSPC, EDQUOT, EFBIG -> IoFailure.Kind.NO_SPACE;
            case EROFS, EPERM, EACCES -> IoFailure.Kind.READ_ONLY;
            case EINVAL, EFAULT -> IoFailure.Kind.INVALID_REQUEST;
            case EOPNOTSUPP -> IoFailure.Kind.UNSUPPORTED;
            case ETIMEDOUT -> IoFailure.Kind.TIMEOUT;
            default -> IoFailure.Kind.INTERNAL;
        };
    }
}
