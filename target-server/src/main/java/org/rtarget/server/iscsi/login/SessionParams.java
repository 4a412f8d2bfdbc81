package org.rtarget.server.iscsi.login;

/**
 * The operational parameters a login settled on. "initiatorMaxRecvDataSegmentLength" bounds every
 * data segment we send; "targetMaxRecvDataSegmentLength" is what we declared we accept.
 */
public record SessionParams(
        boolean headerDigest,
        boolean dataDigest,
        int maxConnections,
        boolean initialR2T,
        boolean immediateData,
        int initiatorMaxRecvDataSegmentLength,
        int targetMaxRecvDataSegmentLength,
        int maxBurstLength,
        int firstBurstLength,
        int defaultTime2Wait,
        int defaultTime2Retain,
        int maxOutstandingR2T,
        boolean dataPduInOrder,
        boolean dataSequenceInOrder,
        int errorRecoveryLevel) {
}
