package org.rtarget.server.scsi;

/**
 * The I_T nexus (an initiator port talking to a target port) as the SCSI core needs to see it; the
 * iSCSI session implements it.
 */
public interface ItNexus {

    /** The target's name (an iqn), used in device identification VPD data. */
    String targetName();

    /** The initiator port's name (iqn plus ISID), for logs. */
    String initiatorPortName();

    /** The relative target port identifier (the portal group tag). */
    int relativeTargetPort();

    /** The LUN numbers this nexus may see, ascending (REPORT LUNS). */
    int[] reportedLuns();
}
