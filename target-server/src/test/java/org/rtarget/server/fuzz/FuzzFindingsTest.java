package org.rtarget.server.fuzz;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.rtarget.server.iscsi.login.Negotiator;
import org.rtarget.server.iscsi.login.TextKeys;
import org.rtarget.server.iscsi.pdu.Digests;
import org.rtarget.server.iscsi.pdu.Pdu;
import org.rtarget.server.iscsi.pdu.PduDecoder;
import org.rtarget.server.iscsi.pdu.PduException;

/** What the fuzzers found, each pinned down as a plain example. */
class FuzzFindingsTest {

    private static byte[] nopOutHeader(int itt) {
        byte[] h = FuzzConnection.header(0x00, true, 0x80);
        Wire.put32(h, 16, itt);
        Wire.put32(h, 20, -1);
        return h;
    }

    @Test
    void theDataDigestCoversThePaddingAsReceived() {
        // 5 bytes of data, 3 bytes of padding that are not zero (RFC 7143: they SHOULD be zero), digest over all 8.
        byte[] frame = Wire.frame(nopOutHeader(1), new byte[] {1, 2, 3, 4, 5}, false, true);
        int pad = Wire.BHS + 5;
        frame[pad] = (byte) 0xAA;
        frame[pad + 1] = (byte) 0xBB;
        frame[pad + 2] = (byte) 0xCC;
        Wire.fixDigests(frame, false, true);
        Digests digests = new Digests();
        digests.enable(false, true);
        EmbeddedChannel ch = new EmbeddedChannel(new PduDecoder(digests, 8192));
        try {
            ch.writeInbound(Unpooled.wrappedBuffer(frame));
            Pdu pdu = ch.readInbound();
            assertThat(pdu).isNotNull();
            assertThat(pdu.dataSegmentLength()).isEqualTo(5);
            pdu.release();
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void aDataDigestThatSkipsNonZeroPaddingIsRefused() {
        byte[] frame = Wire.frame(nopOutHeader(1), new byte[] {1, 2, 3, 4, 5}, false, true); // digest over zero padding
        frame[Wire.BHS + 5] = 1;
        Digests digests = new Digests();
        digests.enable(false, true);
        EmbeddedChannel ch = new EmbeddedChannel(new PduDecoder(digests, 8192));
        try {
            assertThatThrownBy(() -> ch.writeInbound(Unpooled.wrappedBuffer(frame))).isInstanceOf(PduException.class);
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    private static TextKeys parse(String text) {
        return TextKeys.parse(Unpooled.wrappedBuffer(text.getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void textKeyAndValueLimitsAreBytesNotCharacters() {
        String key32 = "\u00e9".repeat(32); // 32 characters, 64 bytes
        assertThatThrownBy(() -> parse(key32 + "=x\0")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("63 bytes");
        assertThat(parse("\u00e9".repeat(31) + "=x\0").pairs()).hasSize(1); // 62 bytes
        assertThatThrownBy(() -> parse("X-v=" + "\u00e9".repeat(4097) + "\0")) // 8194 bytes
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("8192 bytes");
        assertThat(parse("X-v=" + "\u00e9".repeat(4096) + "\0").pairs()).hasSize(1);
    }

    @Test
    void textThatIsNotUtf8IsAProtocolError() {
        byte[] text = {'X', '-', 'a', (byte) 0xC3, 0x28, '=', 'b', 0};
        assertThatThrownBy(() -> TextKeys.parse(Unpooled.wrappedBuffer(text))).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void numbersInOtherScriptsAreRejected() {
        Negotiator n = new Negotiator(262144, "CRC32C,None");
        TextKeys response = TextKeys.empty();
        // Arabic-Indic 8192 and fullwidth 512: Character.isDigit and Long.parseLong take both.
        n.negotiate(parse("MaxRecvDataSegmentLength=\u0668\u0661\u0669\u0662\0MaxBurstLength=\uFF15\uFF11\uFF12\0"), response);
        assertThat(response.pairs()).containsExactly(new TextKeys.Pair("MaxRecvDataSegmentLength", "Reject"),
                new TextKeys.Pair("MaxBurstLength", "Reject"));
        assertThat(n.params().initiatorMaxRecvDataSegmentLength()).isEqualTo(8192);
    }

    @Test
    void aLoginWhoseAnswersWouldNotFitOneLoginResponseIsRefused() throws Exception {
        FuzzConnection c = new FuzzConnection(new FuzzTarget());
        try {
            List<String> keys = new ArrayList<>(ConnectionFuzzTest.loginKeys(new java.util.Random(1)));
            for (int i = 0; i < 1200; i++) {
                keys.add("X" + Integer.toString(i, 36) + "="); // ~5 bytes each, answered "X..=NotUnderstood"
            }
            c.sendPdu("login", c.loginHeader(0x87, 0x400001230000L, 0, 1), Wire.text(keys));
            assertThat(c.received).hasSize(1);
            FuzzConnection.In r = c.received.getFirst();
            assertThat(r.opcode()).isEqualTo(0x23);
            assertThat(r.bhs()[36]).as("status class: initiator error").isEqualTo((byte) 2);
            assertThat(r.data().length).isLessThanOrEqualTo(8192);
        } finally {
            c.abort();
        }
    }

    /** A WRITE(10) of 8 MiB on LUN 1 without data: it waits for its data, holding a buffer of 8 MiB. */
    private static byte[] bigWrite(FuzzConnection c, boolean immediate, int itt, int cmdSn) {
        byte[] h = FuzzConnection.header(0x01, immediate, 0xA1);
        Wire.put64(h, 8, 1L << 48);
        Wire.put32(h, 16, itt);
        Wire.put32(h, 20, 8 << 20);
        Wire.put32(h, 24, cmdSn);
        Wire.put32(h, 28, c.expStatSn);
        h[32] = 0x2A;
        h[39] = 0x08; // 2048 blocks of 4 KiB
        return h;
    }

    private static FuzzConnection loggedIn() throws Exception {
        FuzzConnection c = new FuzzConnection(new FuzzTarget());
        List<String> keys = new ArrayList<>(List.of("InitiatorName=iqn.2026-01.org.rtarget.fuzz:initiator",
                "TargetName=" + FuzzTarget.IQN, "InitialR2T=Yes", "MaxRecvDataSegmentLength=262144"));
        assertThat(c.login(keys)).isTrue();
        return c;
    }

    @Test
    void commandsBeyondMaxCmdSnAreIgnoredEvenInOrder() throws Exception {
        FuzzConnection c = loggedIn();
        try {
            int first = c.cmdSn;
            for (int i = 0; i < FuzzTarget.QUEUE_DEPTH + 4; i++) {
                c.sendPdu("write " + i, bigWrite(c, false, 0x100 + i, first + i), new byte[0]);
            }
            long r2ts = c.received.stream().filter(p -> p.opcode() == 0x31).count();
            assertThat(r2ts).as("commands taken (one R2T each)").isEqualTo(FuzzTarget.QUEUE_DEPTH);
            assertThat(Guards.used(c.alloc)).isLessThanOrEqualTo((long) FuzzTarget.QUEUE_DEPTH * (8 << 20) + (1 << 20));
        } finally {
            c.abort();
        }
    }

    @Test
    void immediateCommandsBeyondTheQueueDepthGetTaskSetFull() throws Exception {
        FuzzConnection c = loggedIn();
        try {
            for (int i = 0; i < FuzzTarget.QUEUE_DEPTH + 4; i++) {
                c.sendPdu("immediate write " + i, bigWrite(c, true, 0x100 + i, c.cmdSn), new byte[0]);
            }
            long taskSetFull = c.received.stream().filter(p -> p.opcode() == 0x21 && (p.bhs()[3] & 0xFF) == 0x28).count();
            assertThat(taskSetFull).isEqualTo(4);
            assertThat(Guards.used(c.alloc)).isLessThanOrEqualTo((long) FuzzTarget.QUEUE_DEPTH * (8 << 20) + (1 << 20));
        } finally {
            c.abort();
        }
    }

    @Test
    void aLogoutWaitingForACommandIsAnsweredWhenTheCommandIsAborted() throws Exception {
        FuzzConnection c = loggedIn();
        try {
            c.sendPdu("write", bigWrite(c, false, 0x100, c.cmdSn++), new byte[0]); // waits for its data (R2T)
            byte[] logout = FuzzConnection.header(0x06, true, 0x80);
            Wire.put32(logout, 16, 0x200);
            Wire.put32(logout, 24, c.cmdSn);
            Wire.put32(logout, 28, c.expStatSn);
            c.sendPdu("logout", logout, new byte[0]);
            assertThat(c.received).noneMatch(p -> p.opcode() == 0x26); // the write is still open
            byte[] abort = FuzzConnection.header(0x02, true, 0x80 | 1);
            Wire.put64(abort, 8, 1L << 48);
            Wire.put32(abort, 16, 0x300);
            Wire.put32(abort, 20, 0x100);
            Wire.put32(abort, 24, c.cmdSn);
            Wire.put32(abort, 28, c.expStatSn);
            c.sendPdu("abort task", abort, new byte[0]);
            assertThat(c.received).anyMatch(p -> p.opcode() == 0x22);
            assertThat(c.received).as("logout response once no command is left").anyMatch(p -> p.opcode() == 0x26);
        } finally {
            c.abort();
        }
    }
    @Test
    void aCommandWithTheReservedTaskTagIsRejected() throws Exception {
        FuzzConnection c = loggedIn();
        try {
            c.sendPdu("write with ITT 0xffffffff", bigWrite(c, false, -1, c.cmdSn++), new byte[0]);
            assertThat(c.received).as("a Reject, no R2T for a task nobody can name")
                    .anyMatch(p -> p.opcode() == 0x3F).noneMatch(p -> p.opcode() == 0x31);
        } finally {
            c.abort();
        }
    }

    @Test
    void aKeySentTwiceInOneLoginIsAnInitiatorError() throws Exception {
        FuzzConnection c = new FuzzConnection(new FuzzTarget());
        try {
            List<String> keys = List.of("InitiatorName=iqn.2026-01.org.rtarget.fuzz:initiator", "TargetName=" + FuzzTarget.IQN,
                    "HeaderDigest=CRC32C", "HeaderDigest=Bogus");
            c.sendPdu("login", c.loginHeader(0x87, 0x400001230000L, 0, 1), Wire.text(keys));
            assertThat(c.received).hasSize(1);
            assertThat(c.received.getFirst().bhs()[36]).as("status class: initiator error").isEqualTo((byte) 2);
            assertThat(c.open()).isFalse();
        } finally {
            c.abort();
        }
    }

    @Test
    void aTargetKeyFromTheInitiatorIsAnInitiatorErrorNotASecondAnswer() throws Exception {
        FuzzConnection c = new FuzzConnection(new FuzzTarget());
        try {
            List<String> keys = List.of("InitiatorName=iqn.2026-01.org.rtarget.fuzz:initiator", "TargetName=" + FuzzTarget.IQN,
                    "TargetPortalGroupTag=7");
            c.sendPdu("login", c.loginHeader(0x87, 0x400001230000L, 0, 1), Wire.text(keys));
            assertThat(c.received).hasSize(1);
            assertThat(c.received.getFirst().bhs()[36]).as("status class: initiator error").isEqualTo((byte) 2);
        } finally {
            c.abort();
        }
    }
}
