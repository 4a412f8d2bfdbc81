package org.rtarget.server.iscsi.login;

import java.util.EnumMap;
import java.util.Map;

/**
 * Operational negotiation for one login (RFC 7143 6.2): takes the initiator's offers, answers each
 * by the rule of its type from {@link NegotiationKey}, and remembers the results.
 */
public final class Negotiator {
    private final Map<NegotiationKey, String> ours;
    private final Map<NegotiationKey, String> agreed = new EnumMap<>(NegotiationKey.class);
    private final int targetMaxRecvDataSegmentLength;
    private boolean declaredOwnMaxRecv;

    /**
     * @param targetMaxRecvDataSegmentLength what we accept per PDU (declared to the initiator)
     * @param digestsAllowed the digests we accept, in our order of preference, e.g. "CRC32C,None"
     */
    public Negotiator(int targetMaxRecvDataSegmentLength, String digestsAllowed) {
        this.targetMaxRecvDataSegmentLength = targetMaxRecvDataSegmentLength;
        this.ours = new EnumMap<>(NegotiationKey.class);
        ours.put(NegotiationKey.HEADER_DIGEST, digestsAllowed);
        ours.put(NegotiationKey.DATA_DIGEST, digestsAllowed);
        ours.put(NegotiationKey.MAX_CONNECTIONS, "1");
        ours.put(NegotiationKey.INITIAL_R2T, "No");
        ours.put(NegotiationKey.IMMEDIATE_DATA, "Yes");
        ours.put(NegotiationKey.MAX_BURST_LENGTH, "16776192");
        ours.put(NegotiationKey.FIRST_BURST_LENGTH, "262144");
        ours.put(NegotiationKey.DEFAULT_TIME_2_WAIT, "2");
        ours.put(NegotiationKey.DEFAULT_TIME_2_RETAIN, "0");
        ours.put(NegotiationKey.MAX_OUTSTANDING_R2T, "16");
        ours.put(NegotiationKey.DATA_PDU_IN_ORDER, "Yes");
        ours.put(NegotiationKey.DATA_SEQUENCE_IN_ORDER, "Yes");
        ours.put(NegotiationKey.ERROR_RECOVERY_LEVEL, "0");
        ours.put(NegotiationKey.IF_MARKER, "No");
        ours.put(NegotiationKey.OF_MARKER, "No");
        ours.put(NegotiationKey.TASK_REPORTING, "RFC3720");
        ours.put(NegotiationKey.PROTOCOL_LEVEL, "1");
    }

    /**
     * Answers every operational key of {@code request} into {@code response}. Keys handled by the
     * login itself (names, session type, AuthMethod, CHAP) are skipped; unknown keys are answered
     * NotUnderstood.
     */
    public void negotiate(TextKeys request, TextKeys response) {
        for (TextKeys.Pair pair : request.pairs()) {
            NegotiationKey key = NegotiationKey.byName(pair.key());
            if (key == null) {
                if (!pair.key().startsWith("CHAP_")) {
                    response.add(pair.key(), "NotUnderstood");
                }
                continue;
            }
            if (key == NegotiationKey.AUTH_METHOD || key.type() == NegotiationKey.Type.DECLARATIVE
                    && key.sender() != NegotiationKey.Sender.TARGET) {
                continue;
            }
            String answer = answer(key, pair.value());
            if (answer != null) {
                response.add(key.wireName(), answer);
            }
        }
    }

    /** Declares our MaxRecvDataSegmentLength, once per login, in the operational stage. */
    public void declareMaxRecvDataSegmentLength(TextKeys response) {
        if (!declaredOwnMaxRecv) {
            response.add(NegotiationKey.MAX_RECV_DATA_SEGMENT_LENGTH.wireName(),
                    Integer.toString(targetMaxRecvDataSegmentLength));
            declaredOwnMaxRecv = true;
        }
    }

    /** Our answer to one offer, or null when none is due. */
    private String answer(NegotiationKey key, String offer) {
        if (key.sender() == NegotiationKey.Sender.TARGET) {
            return "Reject"; // a key only a target may send
        }
        return switch (key.type()) {
            case DECLARATIVE -> null;
            case DECLARATIVE_NUMBER -> {
                Long n = number(key, offer);
                if (n == null) {
                    yield "Reject";
                }
                agreed.put(key, Long.toString(n));
                yield null;
            }
            case LIST -> {
                String choice = firstSupported(offer, ours.getOrDefault(key, key.rfcDefault()));
                if (choice == null) {
                    yield "Reject";
                }
                agreed.put(key, choice);
                yield choice;
            }
            case MIN, MAX -> {
                Long n = number(key, offer);
                if (n == null) {
                    yield "Reject";
                }
                long mine = Long.parseLong(ours.getOrDefault(key, key.rfcDefault()));
                long result = key.type() == NegotiationKey.Type.MIN ? Math.min(n, mine) : Math.max(n, mine);
                agreed.put(key, Long.toString(result));
                yield Long.toString(result);
            }
            case OR, AND -> {
                if (!offer.equals("Yes") && !offer.equals("No")) {
                    yield "Reject";
                }
                boolean theirs = offer.equals("Yes");
                boolean mine = ours.getOrDefault(key, key.rfcDefault()).equals("Yes");
                boolean result = key.type() == NegotiationKey.Type.OR ? theirs || mine : theirs && mine;
                String value = result ? "Yes" : "No";
                agreed.put(key, value);
                yield value;
            }
            case IRRELEVANT -> "Irrelevant";
        };
    }

    private static Long number(NegotiationKey key, String value) {
        if (value.isEmpty() || value.length() > 10) {
            return null;
        }
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c < '0' || c > '9') { // Character.isDigit (and Long.parseLong) would take any script's digits
                return null;
            }
        }
        long n = Long.parseLong(value);
        return n < key.min() || n > key.max() ? null : n;
    }

    private static String firstSupported(String offered, String supported) {
        for (String o : offered.split(",", -1)) {
            for (String s : supported.split(",")) {
                if (o.equals(s)) {
                    return o;
                }
            }
        }
        return null;
    }

    private String value(NegotiationKey key) {
        return agreed.getOrDefault(key, key.rfcDefault());
    }

    private int intValue(NegotiationKey key) {
        return Integer.parseInt(value(key));
    }

    private boolean yes(NegotiationKey key) {
        return value(key).equals("Yes");
    }

    /** The settled parameters (RFC defaults for keys nobody offered). */
    public SessionParams params() {
        int maxBurst = intValue(NegotiationKey.MAX_BURST_LENGTH);
        return new SessionParams(
                value(NegotiationKey.HEADER_DIGEST).equals("CRC32C"),
                value(NegotiationKey.DATA_DIGEST).equals("CRC32C"),
                intValue(NegotiationKey.MAX_CONNECTIONS),
                yes(NegotiationKey.INITIAL_R2T),
                yes(NegotiationKey.IMMEDIATE_DATA),
                intValue(NegotiationKey.MAX_RECV_DATA_SEGMENT_LENGTH),
                targetMaxRecvDataSegmentLength,
                maxBurst,
                Math.min(intValue(NegotiationKey.FIRST_BURST_LENGTH), maxBurst),
                intValue(NegotiationKey.DEFAULT_TIME_2_WAIT),
                intValue(NegotiationKey.DEFAULT_TIME_2_RETAIN),
                intValue(NegotiationKey.MAX_OUTSTANDING_R2T),
                yes(NegotiationKey.DATA_PDU_IN_ORDER),
                yes(NegotiationKey.DATA_SEQUENCE_IN_ORDER),
                intValue(NegotiationKey.ERROR_RECOVERY_LEVEL));
    }
}
