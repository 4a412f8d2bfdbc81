package org.rtarget.server.iscsi.login;

import java.util.HashMap;
import java.util.Map;

/**
 * The one table of iSCSI text keys (RFC 7143 section 13, RFC 7144): for each key its type, who may
 * send it, its RFC default and its allowed range. How two sides' values combine follows from the
 * type alone, so there is no per-key logic anywhere else.
 */
public enum NegotiationKey {
    // Declarations by the initiator.
    INITIATOR_NAME("InitiatorName", Type.DECLARATIVE, Sender.INITIATOR, null, 0, 0),
    INITIATOR_ALIAS("InitiatorAlias", Type.DECLARATIVE, Sender.INITIATOR, null, 0, 0),
    TARGET_NAME("TargetName", Type.DECLARATIVE, Sender.BOTH, null, 0, 0),
    SESSION_TYPE("SessionType", Type.DECLARATIVE, Sender.INITIATOR, "Normal", 0, 0),
    // Declarations by the target.
    TARGET_ALIAS("TargetAlias", Type.DECLARATIVE, Sender.TARGET, null, 0, 0),
    TARGET_ADDRESS("TargetAddress", Type.DECLARATIVE, Sender.TARGET, null, 0, 0),
    TARGET_PORTAL_GROUP_TAG("TargetPortalGroupTag", Type.DECLARATIVE, Sender.TARGET, null, 0, 0),
    // Declared by both sides, each for its own receive direction.
    MAX_RECV_DATA_SEGMENT_LENGTH("MaxRecvDataSegmentLength", Type.DECLARATIVE_NUMBER, Sender.BOTH, "8192", 512, 16777215),
    // Negotiated.
    AUTH_METHOD("AuthMethod", Type.LIST, Sender.BOTH, "None", 0, 0),
    HEADER_DIGEST("HeaderDigest", Type.LIST, Sender.BOTH, "None", 0, 0),
    DATA_DIGEST("DataDigest", Type.LIST, Sender.BOTH, "None", 0, 0),
    MAX_CONNECTIONS("MaxConnections", Type.MIN, Sender.BOTH, "1", 1, 65535),
    INITIAL_R2T("InitialR2T", Type.OR, Sender.BOTH, "Yes", 0, 0),
    IMMEDIATE_DATA("ImmediateData", Type.AND, Sender.BOTH, "Yes", 0, 0),
    MAX_BURST_LENGTH("MaxBurstLength", Type.MIN, Sender.BOTH, "262144", 512, 16777215),
    FIRST_BURST_LENGTH("FirstBurstLength", Type.MIN, Sender.BOTH, "65536", 512, 16777215),
    DEFAULT_TIME_2_WAIT("DefaultTime2Wait", Type.MAX, Sender.BOTH, "2", 0, 3600),
    DEFAULT_TIME_2_RETAIN("DefaultTime2Retain", Type.MIN, Sender.BOTH, "20", 0, 3600),
    MAX_OUTSTANDING_R2T("MaxOutstandingR2T", Type.MIN, Sender.BOTH, "1", 1, 65535),
    DATA_PDU_IN_ORDER("DataPDUInOrder", Type.OR, Sender.BOTH, "Yes", 0, 0),
    DATA_SEQUENCE_IN_ORDER("DataSequenceInOrder", Type.OR, Sender.BOTH, "Yes", 0, 0),
    ERROR_RECOVERY_LEVEL("ErrorRecoveryLevel", Type.MIN, Sender.BOTH, "0", 0, 2),
    IF_MARKER("IFMarker", Type.AND, Sender.BOTH, "No", 0, 0),
    OF_MARKER("OFMarker", Type.AND, Sender.BOTH, "No", 0, 0),
    IF_MARK_INT("IFMarkInt", Type.IRRELEVANT, Sender.BOTH, null, 0, 0),
    OF_MARK_INT("OFMarkInt", Type.IRRELEVANT, Sender.BOTH, null, 0, 0),
    TASK_REPORTING("TaskReporting", Type.LIST, Sender.BOTH, "RFC3720", 0, 0),
    PROTOCOL_LEVEL("iSCSIProtocolLevel", Type.MIN, Sender.BOTH, "0", 0, 31),
    // Only in Text requests of the full feature phase.
    SEND_TARGETS("SendTargets", Type.IRRELEVANT, Sender.INITIATOR, null, 0, 0);

    /** How a key's final value is reached. */
    public enum Type {
        /** A statement of fact by its sender; never answered. */
        DECLARATIVE,
        /** A number each side declares for its own receive direction. */
        DECLARATIVE_NUMBER,
        /** The responder picks the first of the offered values it supports. */
        LIST,
        /** The smaller of the two values. */
        MIN,
        /** The larger of the two values. */
        MAX,
        /** Yes if either side says Yes. */
        OR,
        /** Yes only if both sides say Yes. */
        AND,
        /** Answered "Irrelevant" (obsolete marker intervals, keys out of place). */
        IRRELEVANT
    }

    /** Who may send the key. */
    public enum Sender { INITIATOR, TARGET, BOTH }

    private static final Map<String, NegotiationKey> BY_NAME = new HashMap<>();

    static {
        for (NegotiationKey k : values()) {
            BY_NAME.put(k.wireName, k);
        }
    }

    private final String wireName;
    private final Type type;
    private final Sender sender;
    private final String rfcDefault;
    private final long min;
    private final long max;

    NegotiationKey(String wireName, Type type, Sender sender, String rfcDefault, long min, long max) {
        this.wireName = wireName;
        this.type = type;
        this.sender = sender;
        this.rfcDefault = rfcDefault;
        this.min = min;
        this.max = max;
    }

    /** The key for a name as sent on the wire, or null if this target does not know it. */
    public static NegotiationKey byName(String name) {
        return BY_NAME.get(name);
    }

    public String wireName() {
        return wireName;
    }

    public Type type() {
        return type;
    }

    public Sender sender() {
        return sender;
    }

    /** The value that holds when nobody negotiates the key. */
    public String rfcDefault() {
        return rfcDefault;
    }

    public long min() {
        return min;
    }

    public long max() {
        return max;
    }
}
