package org.rtarget.backend;

/**
 * Completion of one block I/O. Exactly one of the two methods is called, once. Implemented by the
 * request object itself on the hot path, so a submission allocates nothing.
 */
public interface IoCallback {

    /** The operation succeeded (a read filled its whole buffer). */
    void completed();

    /** The operation failed; nothing is known about partially transferred data. */
    void failed(IoFailure failure);
}
