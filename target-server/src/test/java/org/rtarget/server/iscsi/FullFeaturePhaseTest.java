package org.rtarget.server.iscsi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.rtarget.server.iscsi.TestPdus.F;
import static org.rtarget.server.iscsi.TestPdus.READ;
import static org.rtarget.server.iscsi.TestPdus.SIMPLE;
import static org.rtarget.server.iscsi.TestPdus.WRITE;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** After a successful login: NOP, SCSI reads and writes, the CmdSN window, session reinstatement. */
class FullFeaturePhaseTest {
    private static final int BLOCK = TestTarget.BLOCK;
    private static final int STATUS_BIT = 0x01;

    private final TestTarget target = new TestTarget();

    @AfterEach
    void close() {
        target.close();
    }

    private static byte[] pattern(int length, long seed) {
        byte[] b = new byte[length];
        new Random(seed).nextBytes(b);
        return b;
    }

    /**
     * TEST UNIT READY until GOOD: whether a new nexus starts with a unit attention is the SCSI
     * layer's policy, so one (and only a unit attention) is accepted and cleared.
     */
    private static void testUnitReady(TestInitiator ini) {
        for (int attempt = 0; ; attempt++) {
            int itt = ini.command(F | SIMPLE, 0, TestPdus.testUnitReady(), null);
            WirePdu r = ini.receiveOne();
            assertThat(r.opcode()).isEqualTo(TestPdus.SCSI_RESPONSE);
            assertThat(r.itt()).isEqualTo(itt);
            if (r.byte3() == 0) {
                return;
            }
            assertThat(r.byte3()).as("CHECK CONDITION").isEqualTo(0x02);
            assertThat(r.sense()).as("UNIT ATTENTION").startsWith("6/");
            assertThat(attempt).as("unit attentions before GOOD").isLessThan(3);
        }
    }

    private TestInitiator loggedIn(int maxRecvDataSegmentLength) {
        TestInitiator ini = target.connect();
        ini.loginNormal(maxRecvDataSegmentLength);
        testUnitReady(ini);
        return ini;
    }

    /** READ(10) through the session; returns the Data-In PDUs (no SCSI Response expected). */
    private static List<WirePdu> read(TestInitiator ini, int lba, int blocks) {
        int itt = ini.command(F | READ | SIMPLE, blocks * BLOCK, TestPdus.read10(lba, blocks), null);
        List<WirePdu> pdus = ini.received();
        assertThat(pdus).isNotEmpty().allSatisfy(p -> {
            assertThat(p.opcode()).isEqualTo(TestPdus.DATA_IN);
            assertThat(p.itt()).isEqualTo(itt);
        });
        return pdus;
    }

    private static byte[] concat(List<WirePdu> pdus) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        pdus.forEach(p -> out.writeBytes(p.data()));
        return out.toByteArray();
    }

    @Test
    void aNopOutGetsANopInEchoingItsData() {
        TestInitiator ini = target.connect();
        ini.loginNormal();
        byte[] ping = "rtarget ping!".getBytes(StandardCharsets.US_ASCII); // 13 bytes: padded on the wire
        int itt = ini.itt();
        int cmdSn = ini.cmdSn++;
        int expectedStatSn = ini.expStatSn;
        ini.send(TestPdus.nopOut(false, itt, cmdSn, ini.expStatSn, ping));

        WirePdu r = ini.receiveOne();
        assertThat(r.opcode()).isEqualTo(TestPdus.NOP_IN);
        assertThat(r.finalBit()).isTrue();
        assertThat(r.itt()).isEqualTo(itt);
        assertThat(r.ttt()).isEqualTo(TestPdus.RESERVED);
        assertThat(r.data()).isEqualTo(ping);
        assertThat(r.statSn()).isEqualTo(expectedStatSn);
        assertThat(r.expCmdSn()).isEqualTo(cmdSn + 1);
        assertThat(r.maxCmdSn() - r.expCmdSn()).as("an open command window").isGreaterThanOrEqualTo(0);
        assertThat(ini.partialBytes()).isZero();
    }

    /** A login that negotiates CRC32C header and data digests; our PDUs are then checked on receipt. */
    private TestInitiator loggedInWithDigests() {
        TestInitiator ini = target.connect();
        List<String> keys = Captures.replace(Captures.replace(TestInitiator.normalKeys(TestTarget.IQN, 262144),
                "HeaderDigest", "CRC32C"), "DataDigest", "CRC32C");
        WirePdu login = ini.login(keys);
        assertThat(login.loginStatus()).isZero();
        assertThat(login.keys()).contains("HeaderDigest=CRC32C", "DataDigest=CRC32C");
        ini.headerDigest = true;
        ini.dataDigest = true;
        return ini;
    }

    @Test
    void withDigestsANopOutIsAnsweredWithCorrectDigests() {
        TestInitiator ini = loggedInWithDigests();
        byte[] ping = "digest ping".getBytes(StandardCharsets.US_ASCII); // 11 bytes: the digest covers the padding
        int itt = ini.itt();
        ini.send(Crc.withDigests(TestPdus.nopOut(true, itt, ini.cmdSn, ini.expStatSn, ping), true, true));

        WirePdu r = ini.receiveOne(); // receiveOne checks both digests
        assertThat(r.opcode()).isEqualTo(TestPdus.NOP_IN);
        assertThat(r.itt()).isEqualTo(itt);
        assertThat(r.data()).isEqualTo(ping);
        assertThat(ini.partialBytes()).isZero();
    }

    @Test
    void withDigestsAPduWithABadHeaderDigestClosesTheConnection() {
        TestInitiator ini = loggedInWithDigests();
        byte[] nop = Crc.withDigests(TestPdus.nopOut(true, ini.itt(), ini.cmdSn, ini.expStatSn, null), true, true);
        nop[48] ^= 0x01;
        ini.send(nop);
        ini.channel.runPendingTasks();
        assertThat(ini.received()).isEmpty();
        assertThat(ini.channel.isOpen()).isFalse();
        assertThat(target.sessions.all()).isEmpty();
    }

    @Test
    void aRead10ReturnsTheDevicesBytesInDataInWithStatus() {
        byte[] content = pattern(8 * BLOCK, 1);
        target.writeDevice(0, content);
        TestInitiator ini = loggedIn(262144);
        int statSnBefore = ini.expStatSn;

        List<WirePdu> dataIn = read(ini, 2, 4);
        assertThat(dataIn).hasSize(1);
        WirePdu d = dataIn.getFirst();
        assertThat(d.flags() & (F | STATUS_BIT)).as("F and S bits").isEqualTo(F | STATUS_BIT);
        assertThat(d.flags() & 0x06).as("no residual").isZero();
        assertThat(d.byte3()).as("GOOD").isZero();
        assertThat(d.statSn()).isEqualTo(statSnBefore);
        assertThat(d.word36()).as("DataSN").isZero();
        assertThat(d.word40()).as("buffer offset").isZero();
        assertThat(d.data()).isEqualTo(Arrays.copyOfRange(content, 2 * BLOCK, 6 * BLOCK));
        assertThat(ini.received()).as("the status came with the data: no SCSI Response").isEmpty();
    }

    @Test
    void aReadLargerThanTheInitiatorsSegmentSizeIsSplitAndTheStatusComesLast() {
        byte[] content = pattern(32 * BLOCK, 2);
        target.writeDevice(64 * BLOCK, content);
        TestInitiator ini = loggedIn(4096); // the initiator accepts at most 4K per PDU

        List<WirePdu> dataIn = read(ini, 64, 32);
        assertThat(dataIn).hasSize(4);
        for (int i = 0; i < 4; i++) {
            WirePdu d = dataIn.get(i);
            assertThat(d.data()).hasSize(4096);
            assertThat(d.word36()).as("DataSN").isEqualTo(i);
            assertThat(d.word40()).as("buffer offset").isEqualTo(i * 4096);
            assertThat(d.flags() & STATUS_BIT).as("S bit on PDU %d", i).isEqualTo(i == 3 ? STATUS_BIT : 0);
        }
        assertThat(concat(dataIn)).isEqualTo(content);
    }

    @Test
    void aWrite10WithImmediateDataAndAnR2tSolicitedRestWritesTheRightBytes() {
        TestInitiator ini = loggedIn(262144);
        byte[] content = pattern(16 * BLOCK, 3);
        int lba = 8;

        // 2K of immediate data with the command (F set: no unsolicited Data-Out follows).
        int itt = ini.command(F | WRITE | SIMPLE, content.length, TestPdus.write10(lba, 16),
                Arrays.copyOfRange(content, 0, 2048));
        WirePdu r2t = ini.receiveOne();
        assertThat(r2t.opcode()).isEqualTo(TestPdus.R2T);
        assertThat(r2t.itt()).isEqualTo(itt);
        assertThat(r2t.ttt()).isNotEqualTo(TestPdus.RESERVED);
        assertThat(r2t.word36()).as("R2TSN").isZero();
        assertThat(r2t.word40()).as("buffer offset").isEqualTo(2048);
        assertThat(r2t.word44()).as("desired length").isEqualTo(content.length - 2048);

        // The solicited rest in two Data-Out PDUs.
        ini.send(TestPdus.dataOut(false, 0, itt, r2t.ttt(), ini.expStatSn, 0, 2048,
                Arrays.copyOfRange(content, 2048, 5120)));
        assertThat(ini.received()).isEmpty();
        ini.send(TestPdus.dataOut(true, 0, itt, r2t.ttt(), ini.expStatSn, 1, 5120,
                Arrays.copyOfRange(content, 5120, content.length)));

        WirePdu status = ini.receiveOne();
        assertThat(status.opcode()).isEqualTo(TestPdus.SCSI_RESPONSE);
        assertThat(status.itt()).isEqualTo(itt);
        assertThat(status.byte2()).as("command completed at target").isZero();
        assertThat(status.byte3()).as("GOOD").isZero();
        assertThat(status.word36()).as("ExpDataSN: one R2T").isEqualTo(1);
        assertThat(status.word44()).as("residual").isZero();

        assertThat(target.readDevice((long) lba * BLOCK, content.length)).isEqualTo(content);
        assertThat(target.readDevice(0, lba * BLOCK)).as("nothing written before the LBA")
                .isEqualTo(new byte[lba * BLOCK]);
        assertThat(concat(read(ini, lba, 16))).as("read back through iSCSI").isEqualTo(content);
    }

    @Test
    void aWriteWithUnsolicitedDataOutThenAnR2tForTheRestWritesTheRightBytes() {
        // InitialR2T=No, as Linux offers and this target accepts: 8K immediate data, unsolicited
        // Data-Out up to FirstBurstLength (64K), the rest solicited by R2T.
        TestInitiator ini = target.connect();
        List<String> keys = Captures.replace(TestInitiator.normalKeys(TestTarget.IQN, 262144), "InitialR2T", "No");
        WirePdu login = ini.login(keys);
        assertThat(login.keys()).contains("InitialR2T=No", "ImmediateData=Yes", "FirstBurstLength=65536");
        testUnitReady(ini);

        byte[] content = pattern(128 * 1024, 4);
        int lba = 100;
        int itt = ini.command(WRITE | SIMPLE, content.length, TestPdus.write10(lba, content.length / BLOCK),
                Arrays.copyOfRange(content, 0, 8192)); // F=0: unsolicited Data-Out follows
        List<WirePdu> early = new ArrayList<>(ini.received());
        for (int sn = 0, offset = 8192; offset < 65536; sn++, offset += 8192) {
            ini.send(TestPdus.dataOut(offset + 8192 == 65536, 0, itt, TestPdus.RESERVED, ini.expStatSn, sn, offset,
                    Arrays.copyOfRange(content, offset, offset + 8192)));
            early.addAll(ini.received());
        }
        assertThat(early).as("an R2T for what is beyond the first burst").singleElement()
                .satisfies(r2t -> {
                    assertThat(r2t.opcode()).isEqualTo(TestPdus.R2T);
                    assertThat(r2t.word40()).isEqualTo(65536);
                    assertThat(r2t.word44()).isEqualTo(65536);
                });
        int ttt = early.getFirst().ttt();
        ini.send(TestPdus.dataOut(false, 0, itt, ttt, ini.expStatSn, 0, 65536, Arrays.copyOfRange(content, 65536, 98304)));
        ini.send(TestPdus.dataOut(true, 0, itt, ttt, ini.expStatSn, 1, 98304, Arrays.copyOfRange(content, 98304, 131072)));

        WirePdu status = ini.receiveOne();
        assertThat(status.opcode()).isEqualTo(TestPdus.SCSI_RESPONSE);
        assertThat(status.itt()).isEqualTo(itt);
        assertThat(status.byte3()).as("GOOD").isZero();
        assertThat(target.readDevice((long) lba * BLOCK, content.length)).isEqualTo(content);
    }

    @Test
    void aCommandBeyondMaxCmdSnGetsNoAnswer() {
        TestInitiator ini = loggedIn(262144);
        int nopItt = ini.itt();
        ini.send(TestPdus.nopOut(false, nopItt, ini.cmdSn++, ini.expStatSn, null));
        WirePdu window = ini.receiveOne();
        int expCmdSn = window.expCmdSn();
        int maxCmdSn = window.maxCmdSn();
        assertThat(expCmdSn).isEqualTo(ini.cmdSn);

        // CmdSN = MaxCmdSN + 1: outside the window, to be ignored (RFC 7143 4.2.2.1).
        ini.send(TestPdus.scsiCommand(F | SIMPLE, 0, ini.itt(), 0, maxCmdSn + 1, ini.expStatSn,
                TestPdus.testUnitReady(), null));
        ini.channel.runPendingTasks();
        assertThat(ini.received()).isEmpty();

        // The target did not take that CmdSN: ExpCmdSN is where it was, and the next in-window
        // command is served.
        ini.send(TestPdus.nopOut(true, ini.itt(), ini.cmdSn, ini.expStatSn, null));
        assertThat(ini.receiveOne().expCmdSn()).isEqualTo(expCmdSn);
        int itt = ini.command(F | SIMPLE, 0, TestPdus.testUnitReady(), null);
        WirePdu tur = ini.receiveOne();
        assertThat(tur.itt()).isEqualTo(itt);
        assertThat(tur.byte3()).isZero();
    }

    @Test
    void aCommandWithAnOldCmdSnGetsNoAnswer() {
        TestInitiator ini = loggedIn(262144); // TEST UNIT READY used at least one CmdSN
        ini.send(TestPdus.scsiCommand(F | SIMPLE, 0, ini.itt(), 0, ini.cmdSn - 1, ini.expStatSn,
                TestPdus.testUnitReady(), null));
        ini.channel.runPendingTasks();
        assertThat(ini.received()).isEmpty();
    }

    @Test
    void aSecondLoginWithTheSameInitiatorNameAndIsidReplacesTheFirstSession() {
        TestInitiator first = target.connect();
        int firstTsih = first.loginNormal().tsih();
        TestInitiator second = target.connect();
        second.isid = first.isid;
        int secondTsih = second.loginNormal().tsih();

        first.channel.runPendingTasks();
        assertThat(first.channel.isOpen()).as("the replaced session's connection").isFalse();
        assertThat(second.channel.isOpen()).isTrue();
        assertThat(target.sessions.all()).extracting(IscsiSession::tsih).containsExactly(secondTsih);
        assertThat(secondTsih).isNotEqualTo(firstTsih);

        // The new session works.
        second.send(TestPdus.nopOut(true, second.itt(), second.cmdSn, second.expStatSn, null));
        assertThat(second.receiveOne().opcode()).isEqualTo(TestPdus.NOP_IN);
    }

    @Test
    void aLoginWithAnotherIsidIsASecondSessionAndLeavesTheFirstAlone() {
        TestInitiator first = target.connect();
        first.loginNormal();
        TestInitiator second = target.connect();
        second.isid = first.isid + 1;
        second.loginNormal();

        first.channel.runPendingTasks();
        assertThat(first.channel.isOpen()).isTrue();
        assertThat(target.sessions.all()).hasSize(2);
    }

    @Test
    void aLogoutIsAnsweredAndEndsTheSession() {
        TestInitiator ini = target.connect();
        int tsih = ini.loginNormal().tsih();
        int itt = ini.itt();
        ini.send(TestPdus.logout(itt, ini.cmdSn, ini.expStatSn));

        WirePdu r = ini.receiveOne();
        assertThat(r.opcode()).isEqualTo(TestPdus.LOGOUT_RESPONSE);
        assertThat(r.itt()).isEqualTo(itt);
        assertThat(r.byte2()).as("closed successfully").isZero();
        ini.channel.runPendingTasks();
        assertThat(ini.channel.isOpen()).isFalse();
        assertThat(target.sessions.byTsih(tsih)).isNull();
    }
}
