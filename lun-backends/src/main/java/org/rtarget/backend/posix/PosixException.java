package org.rtarget.backend.posix;

import java.io.IOException;
import org.rtarget.backend.Errno;

/** A system call failed: carries the real errno, and names the call and the file in its message. */
public final class PosixException extends IOException {

    private final int errno;
    private final String call;

    public PosixException(String call, String path, int errno) {
        super(call + " " + path + ": " + Errno.name(errno));
        this.call = call;
        this.errno = errno;
    }

    /** The errno the call left (e.g. {@link Errno#ENOTCONN}). */
    public int errno() {
        return errno;
    }

    /** The name of the failed call ("pread", "open", ...). */
    public String call() {
        return call;
    }
}
