package org.rtarget.backend.file;

import java.util.concurrent.atomic.AtomicInteger;
import org.rtarget.backend.posix.PosixException;
import org.rtarget.backend.posix.PosixFile;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An open image file shared by the requests that use it, closed when the last of them is done.
 *
 * <p>Why counted: recovery replaces the descriptor while requests may still be blocked in pread on
 * the old one (a hung mount can hold them for long). Closing it under them would let the kernel
 * hand the same descriptor number to the next open, and a late request would then read or write
 * the wrong file. So the device holds one reference, each request one more, and whoever drops the
 * last one closes the descriptor. No grace period to guess.
 */
final class OpenImage {

    private static final Logger log = LoggerFactory.getLogger(OpenImage.class);

    private final PosixFile file;
    /** The device's own reference plus one per request in flight; 0 means closed for good. */
    private final AtomicInteger references = new AtomicInteger(1);

    OpenImage(PosixFile file) {
        this.file = file;
    }

    PosixFile file() {
        return file;
    }

    /** Takes a reference for one request; false if the image is already closed (it was replaced). */
    boolean tryAcquire() {
        while (true) {
            int n = references.get();
            if (n == 0) {
                return false;
            }
            if (references.compareAndSet(n, n + 1)) {
                return true;
            }
        }
    }

    /** Drops a reference (a request's, or once the device's own); the last one closes the file. */
    void release() {
        if (references.decrementAndGet() == 0) {
            try {
                file.close();
            } catch (PosixException e) {
                // the data went through fdatasync or was never acknowledged as durable; nothing to undo
                log.debug("closing {} failed: {}", file, e.getMessage());
            }
        }
    }
}
