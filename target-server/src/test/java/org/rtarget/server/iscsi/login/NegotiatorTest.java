package org.rtarget.server.iscsi.login;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.Unpooled;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.rtarget.server.iscsi.Captures;

/**
 * Operational negotiation with the login offers of real initiators (RFC 7143 6.2, 13): what the
 * target answers and which session parameters result.
 */
class NegotiatorTest {
    /** What this target declares it receives; deliberately different from every initiator's value. */
    private static final int OUR_MAX_RECV = 65536;

    private static final String KERNEL = "kernel-open-iscsi/0005-c2-I2T-Login-Request.bin";
    private static final String KERNEL_DISCOVERY = "kernel-open-iscsi/0001-c1-I2T-Login-Request.bin";
    private static final String KERNEL_DIGESTS = "kernel-open-iscsi-digests/0005-c2-I2T-Login-Request.bin";
    private static final String LIBISCSI = "libiscsi-discovery-inquiry/0005-c2-I2T-Login-Request.bin";
    private static final String QEMU = "qemu-rw/0001-c1-I2T-Login-Request.bin";
    private static final String QEMU_DIGESTS = "qemu-rw-digests/0001-c1-I2T-Login-Request.bin";

    private final Negotiator negotiator = new Negotiator(OUR_MAX_RECV, "CRC32C,None"); // as Login builds it

    private static List<String> offer(String file) {
        return Captures.pairs(Captures.dataSegment(Captures.pdu(file)));
    }

    private static List<String> edited(String file, UnaryOperator<List<String>> edit) {
        return edit.apply(new ArrayList<>(offer(file)));
    }

    private static List<String> with(List<String> pairs, String... more) {
        List<String> out = new ArrayList<>(pairs);
        out.addAll(List.of(more));
        return out;
    }

    private List<String> answer(List<String> offer) {
        TextKeys response = TextKeys.empty();
        negotiator.negotiate(TextKeys.parse(Unpooled.wrappedBuffer(Captures.text(offer))), response);
        return response.pairs().stream().map(p -> p.key() + "=" + p.value()).toList();
    }

    private String answerTo(List<String> offer, String key) {
        return Captures.value(answer(offer), key);
    }

    // ----- the real offers -----

    @Test
    void theLinuxKernelsNormalSessionOffer() {
        assertThat(answer(offer(KERNEL))).containsExactly(
                "HeaderDigest=None", "DataDigest=None", // only None offered
                "DefaultTime2Wait=2", "DefaultTime2Retain=0",
                "IFMarker=No", "OFMarker=No",
                "ErrorRecoveryLevel=0",
                "InitialR2T=No", "ImmediateData=Yes",
                "MaxBurstLength=16776192", "FirstBurstLength=262144", // min(offer, ours): nothing above the offer
                "MaxOutstandingR2T=1", "MaxConnections=1",
                "DataPDUInOrder=Yes", "DataSequenceInOrder=Yes");
        assertThat(negotiator.params()).isEqualTo(new SessionParams(false, false, 1, false, true,
                262144, OUR_MAX_RECV, 16776192, 262144, 2, 0, 1, true, true, 0));
    }

    @Test
    void libiscsisOfferPicksTheFirstDigestOfferedThatWeSupport() {
        assertThat(offer(LIBISCSI)).contains("HeaderDigest=None,CRC32C");
        assertThat(answer(offer(LIBISCSI))).containsExactly(
                "HeaderDigest=None", "DataDigest=None",
                "InitialR2T=No", "ImmediateData=Yes",
                "MaxBurstLength=262144", "FirstBurstLength=262144",
                "DefaultTime2Wait=2", "DefaultTime2Retain=0",
                "MaxOutstandingR2T=1", "ErrorRecoveryLevel=0",
                "IFMarker=No", "OFMarker=No",
                "MaxConnections=1",
                "DataPDUInOrder=Yes", "DataSequenceInOrder=Yes");
        assertThat(negotiator.params()).isEqualTo(new SessionParams(false, false, 1, false, true,
                262144, OUR_MAX_RECV, 262144, 262144, 2, 0, 1, true, true, 0));
    }

    @Test
    void qemusOfferGivesTheSameAsLibiscsi() {
        List<String> answer = answer(offer(QEMU));
        assertThat(answer).isNotEmpty().isEqualTo(answerOf(LIBISCSI));
        assertThat(negotiator.params().maxBurstLength()).isEqualTo(262144);
        assertThat(negotiator.params().initiatorMaxRecvDataSegmentLength()).isEqualTo(262144);
    }

    private static List<String> answerOf(String file) {
        return new NegotiatorTest().answer(offer(file));
    }

    @Test
    void qemuWithHeaderDigestOnlyGetsCrc32cHeaderDigests() {
        assertThat(answerTo(offer(QEMU_DIGESTS), "HeaderDigest")).isEqualTo("CRC32C");
        assertThat(answerTo(offer(QEMU_DIGESTS), "DataDigest")).isEqualTo("None");
        assertThat(negotiator.params().headerDigest()).isTrue();
        assertThat(negotiator.params().dataDigest()).isFalse();
    }

    @Test
    void theKernelWithDigestsGetsBothDigests() {
        List<String> answer = answer(offer(KERNEL_DIGESTS));
        assertThat(answer).contains("HeaderDigest=CRC32C", "DataDigest=CRC32C");
        assertThat(negotiator.params().headerDigest()).isTrue();
        assertThat(negotiator.params().dataDigest()).isTrue();
    }

    @Test
    void theKernelsDiscoveryOfferLeavesTheRestAtRfcDefaults() {
        assertThat(answer(offer(KERNEL_DISCOVERY))).containsExactly(
                "HeaderDigest=None", "DataDigest=None", "DefaultTime2Wait=2", "DefaultTime2Retain=0",
                "IFMarker=No", "OFMarker=No", "ErrorRecoveryLevel=0");
        SessionParams p = negotiator.params();
        assertThat(p.initiatorMaxRecvDataSegmentLength()).isEqualTo(32768);
        // Keys nobody offered: RFC 7143 defaults.
        assertThat(p.initialR2T()).isTrue();
        assertThat(p.immediateData()).isTrue();
        assertThat(p.maxBurstLength()).isEqualTo(262144);
        assertThat(p.firstBurstLength()).isEqualTo(65536);
        assertThat(p.maxOutstandingR2T()).isEqualTo(1);
    }

    // ----- MaxRecvDataSegmentLength: declared, never negotiated -----

    @Test
    void theInitiatorsMaxRecvDataSegmentLengthIsRecordedNotAnsweredAndOursIsDeclaredOnce() {
        TextKeys response = TextKeys.empty();
        negotiator.negotiate(TextKeys.parse(Unpooled.wrappedBuffer(Captures.text(offer(KERNEL)))), response);
        assertThat(response.get("MaxRecvDataSegmentLength")).isNull();

        negotiator.declareMaxRecvDataSegmentLength(response);
        negotiator.declareMaxRecvDataSegmentLength(response); // a second operational PDU of the same login
        assertThat(response.pairs()).filteredOn(p -> p.key().equals("MaxRecvDataSegmentLength"))
                .extracting(TextKeys.Pair::value).containsExactly(Integer.toString(OUR_MAX_RECV));
        assertThat(negotiator.params().initiatorMaxRecvDataSegmentLength()).isEqualTo(262144);
        assertThat(negotiator.params().targetMaxRecvDataSegmentLength()).isEqualTo(OUR_MAX_RECV);
    }

    @Test
    void withoutAnOfferTheInitiatorReceivesTheRfcDefault8192() {
        answer(edited(KERNEL, l -> {
            l.removeIf(p -> p.startsWith("MaxRecvDataSegmentLength="));
            return l;
        }));
        assertThat(negotiator.params().initiatorMaxRecvDataSegmentLength()).isEqualTo(8192);
    }

    // ----- the rules, on edited real offers -----

    @Test
    void maxBurstLengthIsTheMinimumAndFirstBurstNeverExceedsIt() {
        assertThat(answerTo(edited(KERNEL, l -> Captures.replace(l, "MaxBurstLength", "4096")), "MaxBurstLength"))
                .isEqualTo("4096");
        assertThat(negotiator.params().maxBurstLength()).isEqualTo(4096);
        assertThat(negotiator.params().firstBurstLength()).isEqualTo(4096); // FirstBurst 262144 clamped
    }

    @Test
    void aLargerOfferNeverRaisesTheResultAboveTheOffer() {
        String answered = answerTo(edited(LIBISCSI, l -> Captures.replace(l, "MaxBurstLength", "16777215")),
                "MaxBurstLength");
        assertThat(Long.parseLong(answered)).isBetween(512L, 16777215L);
        assertThat(negotiator.params().maxBurstLength()).isEqualTo(Integer.parseInt(answered));
    }

    @Test
    void initialR2tIsAnOr() {
        assertThat(answerTo(edited(KERNEL, l -> Captures.replace(l, "InitialR2T", "Yes")), "InitialR2T"))
                .isEqualTo("Yes");
        assertThat(negotiator.params().initialR2T()).isTrue();
    }

    @Test
    void immediateDataIsAnAnd() {
        assertThat(answerTo(edited(KERNEL, l -> Captures.replace(l, "ImmediateData", "No")), "ImmediateData"))
                .isEqualTo("No");
        assertThat(negotiator.params().immediateData()).isFalse();
    }

    @Test
    void dataInOrderStaysYesWhateverTheInitiatorSays() {
        // OR with our Yes: the target checks DataSN and offsets in order, so it never agrees to No.
        List<String> answer = answer(edited(KERNEL, l -> Captures.replace(
                Captures.replace(l, "DataPDUInOrder", "No"), "DataSequenceInOrder", "No")));
        assertThat(answer).contains("DataPDUInOrder=Yes", "DataSequenceInOrder=Yes");
        assertThat(negotiator.params().dataPduInOrder()).isTrue();
        assertThat(negotiator.params().dataSequenceInOrder()).isTrue();
    }

    @Test
    void markersAreNeverSwitchedOn() {
        // AND with our No: fixed-interval markers are not implemented.
        List<String> answer = answer(edited(KERNEL, l -> Captures.replace(
                Captures.replace(l, "IFMarker", "Yes"), "OFMarker", "Yes")));
        assertThat(answer).contains("IFMarker=No", "OFMarker=No");
    }

    @Test
    void defaultTime2WaitIsTheMaximumAndTime2RetainTheMinimum() {
        // Our values are 2 (the RFC default) and 0 (ErrorRecoveryLevel 0 keeps nothing after a drop).
        List<String> answer = answer(edited(KERNEL, l -> Captures.replace(
                Captures.replace(l, "DefaultTime2Wait", "0"), "DefaultTime2Retain", "3600")));
        assertThat(answer).contains("DefaultTime2Wait=2", "DefaultTime2Retain=0");
        assertThat(negotiator.params().defaultTime2Wait()).isEqualTo(2);
        assertThat(negotiator.params().defaultTime2Retain()).isZero();
    }

    @Test
    void aLongerWaitThanOursIsTaken() {
        assertThat(answerTo(edited(KERNEL, l -> Captures.replace(l, "DefaultTime2Wait", "3600")), "DefaultTime2Wait"))
                .isEqualTo("3600");
    }

    @ParameterizedTest
    @CsvSource({
            "'CRC32C,None', CRC32C",
            "'None,CRC32C', None",
            "'MD5,CRC32C,None', CRC32C", // skips a value we do not know
    })
    void headerDigestPicksTheFirstOfferedValueWeSupport(String offered, String expected) {
        assertThat(answerTo(edited(KERNEL, l -> Captures.replace(l, "HeaderDigest", offered)), "HeaderDigest"))
                .isEqualTo(expected);
        assertThat(negotiator.params().headerDigest()).isEqualTo(expected.equals("CRC32C"));
    }

    @Test
    void aDigestListWithNothingWeSupportIsRejected() {
        assertThat(answerTo(edited(KERNEL, l -> Captures.replace(l, "DataDigest", "MD5")), "DataDigest"))
                .isEqualTo("Reject");
        assertThat(negotiator.params().dataDigest()).isFalse();
    }

    @Test
    void unknownKeysAreNotUnderstood() {
        List<String> answer = answer(with(offer(KERNEL), "FancyNewKey=1", "X-com.example.option=Yes"));
        assertThat(answer).contains("FancyNewKey=NotUnderstood", "X-com.example.option=NotUnderstood");
    }

    @ParameterizedTest
    @CsvSource({
            "MaxBurstLength, 511, 262144",
            "MaxBurstLength, 16777216, 262144",
            "MaxBurstLength, lots, 262144",
            "MaxBurstLength, -1, 262144",
            "FirstBurstLength, 0, 65536",
            "ErrorRecoveryLevel, 3, 0",
            "MaxConnections, 0, 1",
            "MaxOutstandingR2T, 65536, 1",
    })
    void outOfRangeNumbersAreRejectedAndNotUsed(String key, String value, int paramAfter) {
        // The key is offered once, with a bad value (the rest of libiscsi's offer as is); the
        // session then runs with the RFC default.
        List<String> offer = edited(LIBISCSI, l -> {
            l.removeIf(p -> p.startsWith(key + "="));
            l.add(key + "=" + value);
            return l;
        });
        assertThat(answerTo(offer, key)).isEqualTo("Reject");
        SessionParams p = negotiator.params();
        int used = switch (key) {
            case "MaxBurstLength" -> p.maxBurstLength();
            case "FirstBurstLength" -> p.firstBurstLength();
            case "ErrorRecoveryLevel" -> p.errorRecoveryLevel();
            case "MaxConnections" -> p.maxConnections();
            case "MaxOutstandingR2T" -> p.maxOutstandingR2T();
            default -> throw new IllegalArgumentException(key);
        };
        assertThat(used).isEqualTo(paramAfter);
    }

    @Test
    void anOutOfRangeMaxRecvDataSegmentLengthIsRejected() {
        List<String> offer = edited(KERNEL, l -> Captures.replace(l, "MaxRecvDataSegmentLength", "511"));
        assertThat(answerTo(offer, "MaxRecvDataSegmentLength")).isEqualTo("Reject");
        assertThat(negotiator.params().initiatorMaxRecvDataSegmentLength()).isEqualTo(8192);
    }

    @Test
    void aBooleanThatIsNeitherYesNorNoIsRejected() {
        assertThat(answerTo(edited(KERNEL, l -> Captures.replace(l, "ImmediateData", "yes")), "ImmediateData"))
                .isEqualTo("Reject");
    }

    @Test
    void markerIntervalsAreIrrelevant() {
        List<String> answer = answer(with(offer(KERNEL), "IFMarkInt=2048~8192", "OFMarkInt=2048~8192"));
        assertThat(answer).contains("IFMarkInt=Irrelevant", "OFMarkInt=Irrelevant");
    }

    @Test
    void securityKeysAreLeftToTheLogin() {
        List<String> answer = answer(with(offer(KERNEL), "AuthMethod=None", "CHAP_A=5"));
        assertThat(answer).noneMatch(p -> p.startsWith("AuthMethod=") || p.startsWith("CHAP_"));
    }
}
