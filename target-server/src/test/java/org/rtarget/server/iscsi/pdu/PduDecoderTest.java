package org.rtarget.server.iscsi.pdu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.groups.Tuple.tuple;

import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.rtarget.server.iscsi.Captures;
import org.rtarget.server.iscsi.Captures.CapturedPdu;

/** PduDecoder on the initiator-to-target byte streams of real captures. */
class PduDecoderTest {
    /** tgt's MaxRecvDataSegmentLength in the captures: every initiator data segment fits it. */
    private static final int TGT_MAX_RECV = 8192;
    private static final HexFormat HEX = HexFormat.of();

    private final List<EmbeddedChannel> channels = new ArrayList<>();

    /** What a decoded PDU says, comparable with equals. */
    record Decoded(int opcode, int itt, int dataLength, int ahsLength, String bhs, String data) {
    }

    @AfterEach
    void closeChannels() {
        channels.forEach(EmbeddedChannel::finishAndReleaseAll);
    }

    private EmbeddedChannel decoderChannel(Digests digests, int maxData) {
        EmbeddedChannel ch = new EmbeddedChannel(new PduDecoder(digests, maxData));
        channels.add(ch);
        return ch;
    }

    private static List<Decoded> drain(EmbeddedChannel ch) {
        List<Decoded> out = new ArrayList<>();
        for (Pdu pdu; (pdu = ch.readInbound()) != null; ) {
            try {
                out.add(new Decoded(pdu.opcode(), pdu.initiatorTaskTag(), pdu.dataSegmentLength(), pdu.ahsLength(),
                        ByteBufUtil.hexDump(pdu.bhs()), ByteBufUtil.hexDump(pdu.data())));
            } finally {
                pdu.release();
            }
        }
        return out;
    }

    /** What the capture says each PDU is (opcode, ITT and length from pdus.py, bytes from the wire). */
    private static Decoded expected(CapturedPdu p) {
        int dataStart = 48 + (p.headerDigest() ? 4 : 0);
        return new Decoded(p.opcode(), p.itt(), p.dataLength(), 0, HEX.formatHex(p.raw(), 0, 48),
                HEX.formatHex(p.raw(), dataStart, dataStart + p.dataLength()));
    }

    private static byte[] raw(List<CapturedPdu> pdus, int n) {
        return pdus.stream().filter(p -> p.n() == n).findFirst().orElseThrow().raw().clone();
    }

    @ParameterizedTest
    @ValueSource(strings = {"kernel-open-iscsi", "qemu-rw"})
    void everyInitiatorPduOfACaptureDecodesToItsOpcodeIttAndLength(String capture) {
        List<CapturedPdu> all = Captures.initiatorPdus(capture);
        List<String> connections = all.stream().map(CapturedPdu::connection).distinct().toList();

        List<Decoded> decoded = new ArrayList<>();
        for (String c : connections) {
            // One decoder per TCP connection, fed the connection's whole stream at once.
            EmbeddedChannel ch = decoderChannel(new Digests(), TGT_MAX_RECV);
            ch.writeInbound(Unpooled.wrappedBuffer(Captures.concat(Captures.connection(all, c))));
            decoded.addAll(drain(ch));
        }

        List<CapturedPdu> inConnectionOrder = connections.stream()
                .flatMap(c -> Captures.connection(all, c).stream()).toList();
        assertThat(decoded).containsExactlyElementsOf(inConnectionOrder.stream().map(PduDecoderTest::expected).toList());
    }

    @Test
    void theIndexOfTheCapturesMatchesTheOpcodeCountsOfTheReadme() {
        // Guards the test vectors themselves: counts from /work/shared/data/pdu-captures/README.md.
        assertThat(opcodeCounts(Captures.initiatorPdus("kernel-open-iscsi")))
                .isEqualTo(Map.of(0x00, 2L, 0x01, 67L, 0x03, 2L, 0x04, 1L, 0x05, 7L, 0x06, 1L));
        assertThat(opcodeCounts(Captures.initiatorPdus("qemu-rw")))
                .isEqualTo(Map.of(0x01, 18L, 0x03, 1L, 0x05, 134L, 0x06, 1L));
        assertThat(opcodeCounts(Captures.initiatorPdus("kernel-open-iscsi-digests")))
                .isEqualTo(Map.of(0x00, 2L, 0x01, 67L, 0x03, 2L, 0x04, 1L, 0x05, 7L, 0x06, 1L));
    }

    private static Map<Integer, Long> opcodeCounts(List<CapturedPdu> pdus) {
        return pdus.stream().collect(Collectors.groupingBy(CapturedPdu::opcode, TreeMap::new, Collectors.counting()));
    }

    @Test
    void oneByteChunksAndOneBigBufferGiveTheSamePdus() {
        // The kernel's full feature connection: SCSI commands, a WRITE with 8K immediate data,
        // 7 Data-Out of 8K, NOP-Outs and the Logout.
        byte[] stream = Captures.concat(Captures.connection(Captures.initiatorPdus("kernel-open-iscsi"), "c2"));

        EmbeddedChannel whole = decoderChannel(new Digests(), TGT_MAX_RECV);
        whole.writeInbound(Unpooled.wrappedBuffer(stream));
        List<Decoded> fromWhole = drain(whole);

        EmbeddedChannel bytewise = decoderChannel(new Digests(), TGT_MAX_RECV);
        List<Decoded> fromBytes = new ArrayList<>();
        for (byte b : stream) {
            bytewise.writeInbound(Unpooled.wrappedBuffer(new byte[] {b}));
            fromBytes.addAll(drain(bytewise)); // released as they come, as the connection does
        }

        EmbeddedChannel random = decoderChannel(new Digests(), TGT_MAX_RECV);
        Random rnd = new Random(7143);
        for (int i = 0; i < stream.length; ) {
            int n = Math.min(stream.length - i, 1 + rnd.nextInt(300));
            random.writeInbound(Unpooled.wrappedBuffer(Arrays.copyOfRange(stream, i, i + n)));
            i += n;
        }
        List<Decoded> fromRandom = drain(random);

        assertThat(fromWhole).hasSize(78); // 80 initiator PDUs minus c1's Login and Text
        assertThat(fromBytes).isEqualTo(fromWhole);
        assertThat(fromRandom).isEqualTo(fromWhole);
    }

    @Test
    void headerAndDataDigestsOfTheKernelDigestsCaptureVerify() {
        List<CapturedPdu> c2 = Captures.connection(Captures.initiatorPdus("kernel-open-iscsi-digests"), "c2");
        assertThat(c2.getFirst().opcodeName()).isEqualTo("Login-Request");
        assertThat(c2.subList(1, c2.size())).allMatch(CapturedPdu::headerDigest);
        assertThat(c2).filteredOn(p -> p.dataLength() > 0 && p.opcode() != 0x03).isNotEmpty()
                .allMatch(CapturedPdu::dataDigest);

        Digests digests = new Digests();
        EmbeddedChannel ch = decoderChannel(digests, TGT_MAX_RECV);
        ch.writeInbound(Unpooled.wrappedBuffer(c2.getFirst().raw())); // the login has no digests
        List<Decoded> decoded = new ArrayList<>(drain(ch));
        digests.enable(true, true); // as after the final Login Response
        ch.writeInbound(Unpooled.wrappedBuffer(Captures.concat(c2.subList(1, c2.size()))));
        decoded.addAll(drain(ch));

        assertThat(decoded).containsExactlyElementsOf(c2.stream().map(PduDecoderTest::expected).toList());
    }

    @Test
    void aFlippedHeaderBitIsRefusedAndLaterInputDiscarded() {
        List<CapturedPdu> pdus = Captures.initiatorPdus("kernel-open-iscsi-digests");
        byte[] write = raw(pdus, 135); // WRITE(10), 8K immediate data, header and data digest
        byte[] dataOut = raw(pdus, 137);
        write[20] ^= 0x01; // one bit of the expected data transfer length

        Digests digests = new Digests();
        digests.enable(true, true);
        EmbeddedChannel ch = decoderChannel(digests, TGT_MAX_RECV);
        assertThatThrownBy(() -> ch.writeInbound(Unpooled.wrappedBuffer(write)))
                .isInstanceOf(PduException.class).hasMessageContaining("header digest");
        assertThat(drain(ch)).isEmpty();

        // A valid PDU after the bad one is not decoded: the stream cannot be trusted any more.
        ch.writeInbound(Unpooled.wrappedBuffer(dataOut));
        assertThat(drain(ch)).isEmpty();
    }

    @Test
    void aFlippedDataBitIsRefusedAndLaterInputDiscarded() {
        List<CapturedPdu> pdus = Captures.initiatorPdus("kernel-open-iscsi-digests");
        byte[] write = raw(pdus, 135);
        byte[] dataOut = raw(pdus, 137);
        write[52 + 4000] ^= 0x10; // inside the data segment (after BHS and header digest)

        Digests digests = new Digests();
        digests.enable(true, true);
        EmbeddedChannel ch = decoderChannel(digests, TGT_MAX_RECV);
        assertThatThrownBy(() -> ch.writeInbound(Unpooled.wrappedBuffer(write)))
                .isInstanceOf(PduException.class).hasMessageContaining("data digest");
        assertThat(drain(ch)).isEmpty();

        ch.writeInbound(Unpooled.wrappedBuffer(dataOut));
        assertThat(drain(ch)).isEmpty();
    }

    @Test
    void theUnmodifiedPdusDecodeWithDigestsOn() {
        // The control for the two tests above: the same two PDUs, intact, are accepted.
        List<CapturedPdu> pdus = Captures.initiatorPdus("kernel-open-iscsi-digests");
        Digests digests = new Digests();
        digests.enable(true, true);
        EmbeddedChannel ch = decoderChannel(digests, TGT_MAX_RECV);
        ch.writeInbound(Unpooled.wrappedBuffer(raw(pdus, 135)), Unpooled.wrappedBuffer(raw(pdus, 137)));
        assertThat(drain(ch)).extracting(Decoded::opcode, Decoded::dataLength)
                .containsExactly(tuple(0x01, 8192), tuple(0x05, 8192));
    }

    @Test
    void aDataSegmentLongerThanTheMaximumIsRefusedOnItsHeaderAlone() {
        List<CapturedPdu> pdus = Captures.initiatorPdus("qemu-rw");
        CapturedPdu dataOut = pdus.stream().filter(p -> p.opcode() == 0x05).findFirst().orElseThrow();
        assertThat(dataOut.dataLength()).isEqualTo(8192);
        byte[] raw = dataOut.raw();

        EmbeddedChannel ch = decoderChannel(new Digests(), 4096);
        ch.writeInbound(Unpooled.wrappedBuffer(raw, 0, 47)); // not yet a whole header: nothing to judge
        assertThat(drain(ch)).isEmpty();
        assertThatThrownBy(() -> ch.writeInbound(Unpooled.wrappedBuffer(raw, 47, 1))) // byte 48: the header is complete
                .isInstanceOf(PduException.class).hasMessageContaining("8192");

        // The 8K of data that follows is dropped, not buffered into a PDU.
        ch.writeInbound(Unpooled.wrappedBuffer(raw, 48, raw.length - 48));
        ch.writeInbound(Unpooled.wrappedBuffer(raw));
        assertThat(drain(ch)).isEmpty();
    }

    @Test
    void aRaisedMaximumAppliesToTheNextHeader() {
        // As after login: the decoder starts at 8K and is raised to what the target declared.
        byte[] dataOut = Captures.initiatorPdus("qemu-rw").stream().filter(p -> p.opcode() == 0x05)
                .findFirst().orElseThrow().raw();
        PduDecoder decoder = new PduDecoder(new Digests(), 4096);
        EmbeddedChannel ch = new EmbeddedChannel(decoder);
        channels.add(ch);
        decoder.maxDataSegmentLength(8192);
        ch.writeInbound(Unpooled.wrappedBuffer(dataOut));
        assertThat(drain(ch)).extracting(Decoded::dataLength).containsExactly(8192);
    }
}
