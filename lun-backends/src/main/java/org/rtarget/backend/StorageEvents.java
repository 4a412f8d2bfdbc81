package org.rtarget.backend;

/**
 * What a device tells the layer above about its storage, independent of any one request. This is
 * the single recovery API every backend uses: standby is only ever left through
 * {@link #storageRecovered()}.
 */
public interface StorageEvents {

    /** The storage is usable again (image reopened, top delta replaced, a new driver is live). */
    void storageRecovered();

    /** The storage became unavailable without a failed request showing it (e.g. a driver died). */
    default void storageLost(IoFailure cause) {
    }

    /**
     * Data acknowledged earlier may not have reached stable storage: the old image of a switch
     * could not be synced. Whoever acknowledged writes reports it at their next flush.
     */
    default void writebackLost(IoFailure cause) {
    }

    StorageEvents NONE = () -> { };
}
