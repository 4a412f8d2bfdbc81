package org.rtarget.backend;

/** The answer to {@link BlockDevice#extent}: how far from an offset the blocks share one provisioning status. */
public interface ExtentCallback {

    /** The {@code length} bytes from the asked offset are all mapped (hold data) or all unmapped (read as zeros). */
    void found(boolean mapped, long length);

    /** The device could not tell. */
    void failed(IoFailure failure);
}
