package org.rtarget.server.iscsi.pdu;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.rtarget.server.iscsi.Captures;
import org.rtarget.server.iscsi.Captures.CapturedPdu;

/** Digests.compute gives what the wire carries: CRC32C, little-endian. */
class DigestsTest {
    private static final HexFormat HEX = HexFormat.of();

    /** The four bytes a digest value becomes on the wire (PduWriter writes it with writeInt). */
    private static String wire(int digest) {
        return ByteBufUtil.hexDump(Unpooled.buffer(4).writeInt(digest));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({
            // RFC 3720 appendix B.4, CRC bytes in wire order
            "32 bytes of zeros, 00, 0, aa36918a",
            "32 bytes of ones, ff, 0, 43aba862",
            "32 incrementing bytes, 00, 1, 4e79dd46",
            "32 decrementing bytes, 1f, -1, 5cdb3f11",
    })
    void knownAnswersOfRfc3720(String name, String firstHex, int step, String expectedWire) {
        int first = Integer.parseInt(firstHex, 16);
        byte[] data = new byte[32];
        for (int i = 0; i < 32; i++) {
            data[i] = (byte) (first + step * i);
        }
        assertThat(wire(new Digests().compute(Unpooled.wrappedBuffer(data), 0, 32))).isEqualTo(expectedWire);
    }

    @Test
    void headerDigestOfAKnownCapturedPdu() {
        // kernel-open-iscsi-digests PDU 135, pdus.py: hd=464501e0 dd=aa552ad8 (CRC values)
        byte[] raw = pdu(135);
        assertThat(HEX.formatHex(raw, 48, 52)).isEqualTo("e0014546"); // the capture: little-endian
        ByteBuf buf = Unpooled.wrappedBuffer(raw);
        assertThat(wire(new Digests().compute(buf, 0, 48))).isEqualTo("e0014546");
        assertThat(wire(new Digests().computePadded(buf, 52, 8192))).isEqualTo(HEX.formatHex(raw, 52 + 8192, 56 + 8192))
                .isEqualTo("d82a55aa");
    }

    @Test
    void everyDigestOfTheKernelDigestsCaptureIsReproduced() {
        List<CapturedPdu> withDigests = Captures.initiatorPdus("kernel-open-iscsi-digests").stream()
                .filter(CapturedPdu::headerDigest).toList();
        assertThat(withDigests).hasSize(77);
        Digests digests = new Digests();
        int dataDigests = 0;
        for (CapturedPdu p : withDigests) {
            ByteBuf buf = Unpooled.wrappedBuffer(p.raw());
            assertThat(digests.compute(buf, 0, 48)).as("header digest of %s", p).isEqualTo(buf.getInt(48));
            if (p.dataDigest()) {
                int padded = (p.dataLength() + 3) & ~3;
                assertThat(digests.computePadded(buf, 52, p.dataLength())).as("data digest of %s", p)
                        .isEqualTo(buf.getInt(52 + padded));
                dataDigests++;
            }
        }
        assertThat(dataDigests).isEqualTo(8); // the WRITE's immediate data and its 7 Data-Out
    }

    @Test
    void theDataDigestCoversThePadding() {
        // A target Data-In of 66 bytes (INQUIRY), padded to 68: pdus.py dd=674f2686.
        byte[] raw = Captures.pdu("kernel-open-iscsi-digests/0010-c2-T2I-SCSI-Data-In.bin");
        ByteBuf buf = Unpooled.wrappedBuffer(raw);
        assertThat(buf.getMedium(5)).isEqualTo(66);
        assertThat(raw).hasSize(48 + 4 + 68 + 4);
        Digests digests = new Digests();
        assertThat(digests.compute(buf, 0, 48)).isEqualTo(buf.getInt(48));
        assertThat(wire(digests.computePadded(buf, 52, 66))).isEqualTo(HEX.formatHex(raw, 120, 124))
                .isEqualTo("86264f67");
        // Without the two padding bytes the CRC is different: padding is not optional.
        assertThat(digests.compute(buf, 52, 66)).isNotEqualTo(buf.getInt(120));
    }

    @Test
    void aBufferInSeveralPiecesGivesTheSameDigest() {
        // Data handed to PduWriter may be a composite (e.g. pieces of a read); the CRC must not care.
        byte[] raw = pdu(135);
        ByteBuf whole = Unpooled.wrappedBuffer(raw);
        CompositeByteBuf pieces = Unpooled.compositeBuffer();
        int[] cuts = {0, 7, 52, 3000, 5001, raw.length};
        for (int i = 0; i + 1 < cuts.length; i++) {
            pieces.addComponent(true, Unpooled.wrappedBuffer(Arrays.copyOfRange(raw, cuts[i], cuts[i + 1])));
        }
        assertThat(pieces.nioBufferCount()).isGreaterThan(1);
        Digests digests = new Digests();
        assertThat(digests.computePadded(pieces, 52, 8192)).isEqualTo(digests.computePadded(whole, 52, 8192))
                .isEqualTo(whole.getInt(52 + 8192));
        assertThat(digests.compute(pieces, 0, 48)).isEqualTo(whole.getInt(48));
    }

    @Test
    void theIndexArgumentIsRespected() {
        byte[] shifted = new byte[40];
        IntStream.range(0, 32).forEach(i -> shifted[5 + i] = (byte) i);
        assertThat(wire(new Digests().compute(Unpooled.wrappedBuffer(shifted), 5, 32))).isEqualTo("4e79dd46");
    }

    private static byte[] pdu(int n) {
        return Captures.initiatorPdus("kernel-open-iscsi-digests").stream().filter(p -> p.n() == n)
                .findFirst().orElseThrow().raw();
    }
}
