package org.rtarget.backend;

/**
 * Why a block I/O failed: a class the SCSI layer maps to sense data, the errno where the OS gave one
 * (0 otherwise), and a message for logs.
 */
public record IoFailure(Kind kind, int errno, String message) {

    /** Failure classes, each with a natural SCSI sense (chosen by the SCSI layer, not here). */
    public enum Kind {
        /** The medium returned an error (EIO). */
        MEDIUM_ERROR,
        /** The storage behind the device cannot be reached right now (EBUSY, ENOTCONN, a dead driver). */
        UNAVAILABLE,
        /** No space left to allocate (ENOSPC, EDQUOT). */
        NO_SPACE,
        /** The device or image is read-only (EROFS, EPERM, EACCES). */
        READ_ONLY,
        /** The backend cannot do this operation at all. */
        UNSUPPORTED,
        /** The request was refused as malformed (EINVAL, out of range). */
        INVALID_REQUEST,
        /** The request did not complete in time. */
        TIMEOUT,
        /** Anything else: a bug or an unexpected state. */
        INTERNAL,
        /**
         * The request had no effect where later reads look and may simply be sent again: it was
         * cancelled or expired before it reached the storage, or it ran on storage that was replaced
         * while it was in flight. Answered BUSY, never an error, and never a reason for standby.
         */
        RETRY
    }

    public static IoFailure of(Kind kind, int errno, String message) {
        return new IoFailure(kind, errno, message);
    }

    /** A failure carrying an errno, classified by it. */
    public static IoFailure ofErrno(int errno, String message) {
        return new IoFailure(Errno.kindOf(errno), errno, message);
    }

    @Override
    public String toString() {
        return errno == 0 ? kind + ": " + message : kind + " (" + Errno.name(errno) + "): " + message;
    }
}
