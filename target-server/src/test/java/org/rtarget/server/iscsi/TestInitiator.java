package org.rtarget.server.iscsi;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The initiator end of one EmbeddedChannel connection: sends raw PDUs, reads back what the target
 * wrote (reassembled from the buffers the connection wrote), and keeps CmdSN, ExpStatSN and ITTs.
 */
final class TestInitiator {
    static final String NAME = "iqn.2026-01.org.rtarget.test:initiator";
    static final long DEFAULT_ISID = 0x80_1234_5600_01L;

    final EmbeddedChannel channel;
    private final ByteBuf fromTarget = Unpooled.buffer();
    long isid = DEFAULT_ISID;
    int cmdSn = 0x4B45_B1F8; // libiscsi's first CmdSN in libiscsi-discovery-inquiry
    int expStatSn;
    int tsih;
    /** Whether the target's PDUs carry digests (switch on after a login that negotiated them). */
    boolean headerDigest;
    boolean dataDigest;
    private int nextItt = 0x100;

    TestInitiator(EmbeddedChannel channel) {
        this.channel = channel;
    }

    /** The keys a typical initiator offers for a normal session (libiscsi's set). */
    static List<String> normalKeys(String targetName, int maxRecvDataSegmentLength) {
        return new ArrayList<>(List.of(
                "InitiatorName=" + NAME, "TargetName=" + targetName, "SessionType=Normal",
                "HeaderDigest=None", "DataDigest=None", "InitialR2T=Yes", "ImmediateData=Yes",
                "MaxBurstLength=262144", "FirstBurstLength=65536", "DefaultTime2Wait=2", "DefaultTime2Retain=0",
                "MaxOutstandingR2T=1", "ErrorRecoveryLevel=0", "IFMarker=No", "OFMarker=No", "MaxConnections=1",
                "MaxRecvDataSegmentLength=" + maxRecvDataSegmentLength, "DataPDUInOrder=Yes",
                "DataSequenceInOrder=Yes"));
    }

    int itt() {
        return nextItt++;
    }

    void send(byte[] pdu) {
        channel.writeInbound(Unpooled.wrappedBuffer(pdu));
    }

    /** Logs in with {@code keys} in one Login Request (operational stage to full feature phase). */
    WirePdu login(List<String> keys) {
        send(TestPdus.login(isid, itt(), cmdSn, expStatSn, keys));
        WirePdu response = receiveOne();
        assertThat(response.opcode()).isEqualTo(TestPdus.LOGIN_RESPONSE);
        tsih = response.tsih();
        return response;
    }

    /** A normal session to the test target, asserting it succeeded. */
    WirePdu loginNormal(int maxRecvDataSegmentLength) {
        WirePdu response = login(normalKeys(TestTarget.IQN, maxRecvDataSegmentLength));
        assertThat(response.loginStatus()).as("login status").isZero();
        assertThat(response.flags() & 0x80).as("T bit").isNotZero();
        return response;
    }

    WirePdu loginNormal() {
        return loginNormal(262144);
    }

    /** Sends a SCSI command with the next CmdSN and ITT; returns the ITT. */
    int command(int flags, int edtl, byte[] cdb, byte[] immediateData) {
        int itt = itt();
        send(TestPdus.scsiCommand(flags, 0, itt, edtl, cmdSn++, expStatSn, cdb, immediateData));
        return itt;
    }

    /** The same on LUN {@code lun} (single-level peripheral addressing, LUN < 256). */
    int command(int lun, int flags, int edtl, byte[] cdb) {
        int itt = itt();
        send(TestPdus.scsiCommand(flags, (long) lun << 48, itt, edtl, cmdSn++, expStatSn, cdb, null));
        return itt;
    }

    /** Every PDU the target has written since the last call, in order. */
    List<WirePdu> received() {
        for (Object m; (m = channel.readOutbound()) != null; ) {
            ByteBuf b = (ByteBuf) m;
            fromTarget.writeBytes(b);
            b.release();
        }
        List<WirePdu> pdus = new ArrayList<>();
        while (fromTarget.readableBytes() >= 48) {
            int start = fromTarget.readerIndex();
            int ahs = fromTarget.getUnsignedByte(start + 4) * 4;
            int dlen = fromTarget.getUnsignedMedium(start + 5);
            int header = 48 + ahs + (headerDigest ? 4 : 0);
            int padded = (dlen + 3) & ~3;
            int total = header + padded + (dataDigest && dlen > 0 ? 4 : 0);
            if (fromTarget.readableBytes() < total) {
                break;
            }
            byte[] raw = new byte[total];
            fromTarget.getBytes(start, raw);
            fromTarget.skipBytes(total);
            if (headerDigest) {
                assertThat(Crc.wire(raw, 48 + ahs)).as("header digest from the target")
                        .isEqualTo(Crc.crc32c(raw, 0, 48 + ahs));
            }
            if (dataDigest && dlen > 0) {
                assertThat(Crc.wire(raw, header + padded)).as("data digest from the target")
                        .isEqualTo(Crc.crc32c(raw, header, padded));
            }
            byte[] bhs = Arrays.copyOfRange(raw, 0, 48);
            byte[] data = Arrays.copyOfRange(raw, header, header + dlen);
            WirePdu pdu = new WirePdu(bhs, data);
            track(pdu);
            pdus.add(pdu);
        }
        fromTarget.discardReadBytes();
        return pdus;
    }

    /** Exactly one PDU must have come. */
    WirePdu receiveOne() {
        List<WirePdu> pdus = received();
        assertThat(pdus).as("PDUs from the target").hasSize(1);
        return pdus.getFirst();
    }

    /** Bytes written by the target that do not yet form a whole PDU. */
    int partialBytes() {
        return fromTarget.readableBytes();
    }

    /** ExpStatSN follows every response that carries a StatSN. */
    private void track(WirePdu pdu) {
        boolean statusCarrying = switch (pdu.opcode()) {
            case TestPdus.NOP_IN -> pdu.itt() != TestPdus.RESERVED;
            case TestPdus.SCSI_RESPONSE, TestPdus.LOGIN_RESPONSE, TestPdus.TEXT_RESPONSE,
                 TestPdus.LOGOUT_RESPONSE, TestPdus.REJECT -> true;
            case TestPdus.DATA_IN -> (pdu.flags() & 0x01) != 0;
            default -> false;
        };
        if (statusCarrying) {
            expStatSn = pdu.statSn() + 1;
        }
    }
}
