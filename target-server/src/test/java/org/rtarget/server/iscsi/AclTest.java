package org.rtarget.server.iscsi;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.rtarget.config.AclEntry;

/**
 * Target ACLs: who may log in (0x0202 for the others), from which addresses, which targets discovery
 * shows, and LUN masking (REPORT LUNS and LOGICAL UNIT NOT SUPPORTED).
 */
class AclTest {
    private static final String OTHER = "iqn.2026-01.org.rtarget.test:somebody-else";
    private static final String HIDDEN_IQN = "iqn.2026-01.org.rtarget.test:hidden";
    private static final String OPEN_IQN = "iqn.2026-01.org.rtarget.test:open";

    private TestTarget target;
    private final LogCapture log = new LogCapture();

    @AfterEach
    void close() {
        log.close();
        if (target != null) {
            target.close();
        }
    }

    private static AclEntry entry(String initiator, List<Integer> luns, List<String> addresses) {
        return new AclEntry(initiator, luns, addresses);
    }

    private TestTarget withAcl(AclEntry... entries) {
        target = TestTarget.builder().acl(entries).build();
        return target;
    }

    private static void assertRefused(TestTarget target, TestInitiator ini, WirePdu r, int status) {
        assertThat(r.loginStatus()).as("login status").isEqualTo(status);
        ini.channel.runPendingTasks();
        assertThat(ini.channel.isOpen()).isFalse();
        assertThat(target.sessions.all()).isEmpty();
    }

    @Test
    void anInitiatorNotInTheAclGets0202() {
        withAcl(entry(OTHER, List.of(), List.of()));
        TestInitiator ini = target.connect();
        WirePdu r = ini.login(TestInitiator.normalKeys(TestTarget.IQN, 262144));
        assertRefused(target, ini, r, 0x0202);
        assertThat(log.lines()).filteredOn(l -> l.contains("refused")).singleElement().satisfies(l ->
                assertThat(l).startsWith("WARN ").contains("0x0202", TestInitiator.NAME, "not in the acl", TestTarget.IQN));
    }

    @Test
    void anInitiatorInTheAclLogsIn() {
        withAcl(entry(OTHER, List.of(), List.of()), entry(TestInitiator.NAME.toUpperCase(), List.of(), List.of()));
        target.connect().loginNormal(); // iSCSI names compare without case
    }

    @Test
    void theAclIsCheckedBeforeChap() {
        target = TestTarget.builder().auth(ChapLoginTest.ONE_WAY).acl(entry(OTHER, List.of(), List.of())).build();
        ChapInitiator chap = new ChapInitiator(target.connect());
        assertRefused(target, chap.ini, chap.start(TestTarget.IQN, "CHAP,None"), 0x0202);
    }

    @Test
    void anAddressRangeAdmitsOnlyItsAddresses() throws Exception {
        withAcl(entry(TestInitiator.NAME, List.of(), List.of("192.0.2.0/24", "2001:db8::/32")));
        target.connectFrom("192.0.2.77").loginNormal();
        target.connectFrom("2001:db8::5").loginNormal();

        TestInitiator outside = target.connectFrom("198.51.100.1");
        WirePdu r = outside.login(TestInitiator.normalKeys(TestTarget.IQN, 262144));
        assertThat(r.loginStatus()).isEqualTo(0x0202);
        assertThat(log.lines()).anyMatch(l -> l.contains("from 198.51.100.1"));

        // An EmbeddedChannel has no IP address: it matches no range.
        TestInitiator unknown = target.connect();
        assertThat(unknown.login(TestInitiator.normalKeys(TestTarget.IQN, 262144)).loginStatus()).isEqualTo(0x0202);
    }

    @Test
    void discoveryShowsOnlyTheTargetsTheInitiatorMayLogInTo() throws Exception {
        IscsiTarget hidden = new IscsiTarget(HIDDEN_IQN, null, 8, null, List.of(entry(OTHER, List.of(), List.of())),
                Map.of());
        IscsiTarget open = new IscsiTarget(OPEN_IQN, null, 8, null, Map.of());
        IscsiTarget elsewhere = new IscsiTarget("iqn.2026-01.org.rtarget.test:lan-only", null, 8, null,
                List.of(entry(TestInitiator.NAME, List.of(), List.of("10.0.0.0/8"))), Map.of());
        target = TestTarget.builder().acl(entry(TestInitiator.NAME, List.of(1), List.of()))
                .other(hidden).other(open).other(elsewhere).build();

        assertThat(sendTargets(target.connectFrom("192.0.2.1"), "All"))
                .containsExactly("TargetName=" + TestTarget.IQN, "TargetAddress=127.0.0.1:3260,1",
                        "TargetName=" + OPEN_IQN, "TargetAddress=127.0.0.1:3260,1");
        assertThat(sendTargets(target.connectFrom("10.1.2.3"), "All"))
                .contains("TargetName=iqn.2026-01.org.rtarget.test:lan-only");
        assertThat(sendTargets(target.connect(), HIDDEN_IQN)).as("asked for by name").isEmpty();
    }

    private static List<String> sendTargets(TestInitiator ini, String which) {
        List<String> keys = new ArrayList<>(List.of("InitiatorName=" + TestInitiator.NAME, "SessionType=Discovery"));
        assertThat(ini.login(keys).loginStatus()).isZero();
        ini.send(TestPdus.text(ini.itt(), ini.cmdSn, ini.expStatSn, List.of("SendTargets=" + which)));
        WirePdu r = ini.receiveOne();
        assertThat(r.opcode()).isEqualTo(TestPdus.TEXT_RESPONSE);
        return r.keys();
    }

    @Test
    void lunMaskingHidesTheOtherLuns() {
        withAcl(entry(TestInitiator.NAME, List.of(1), List.of()));
        TestInitiator ini = target.connect();
        ini.loginNormal();

        assertThat(reportLuns(ini, 0)).containsExactly(1);
        assertThat(reportLuns(ini, 1)).containsExactly(1);
        // LUN 0 exists on the target but not for this initiator
        ini.command(0, TestPdus.F | TestPdus.SIMPLE, 0, TestPdus.testUnitReady());
        WirePdu r = ini.receiveOne();
        assertThat(r.opcode()).isEqualTo(TestPdus.SCSI_RESPONSE);
        assertThat(r.byte3()).as("CHECK CONDITION").isEqualTo(0x02);
        assertThat(r.sense()).as("LOGICAL UNIT NOT SUPPORTED").isEqualTo("5/25/00");
    }

    @Test
    void withoutAMaskEveryLunIsSeen() {
        withAcl(entry(TestInitiator.NAME, List.of(), List.of()));
        TestInitiator ini = target.connect();
        ini.loginNormal();
        assertThat(reportLuns(ini, 0)).containsExactly(0, 1);
    }

    /** REPORT LUNS through {@code lun}; the LUN numbers listed. */
    private static List<Integer> reportLuns(TestInitiator ini, int lun) {
        byte[] cdb = new byte[16];
        cdb[0] = (byte) 0xA0;
        ByteBuffer.wrap(cdb).putInt(6, 4096);
        int itt = ini.command(lun, TestPdus.F | TestPdus.READ | TestPdus.SIMPLE, 4096, cdb);
        List<WirePdu> pdus = ini.received();
        ByteBuffer data = ByteBuffer.allocate(4096);
        for (WirePdu p : pdus) {
            assertThat(p.itt()).isEqualTo(itt);
            if (p.opcode() == TestPdus.DATA_IN) {
                data.put(p.word40(), p.data());
            } else {
                assertThat(p.opcode()).isEqualTo(TestPdus.SCSI_RESPONSE);
                assertThat(p.byte3()).as("status of REPORT LUNS: " + p.sense()).isZero();
            }
        }
        int length = data.getInt(0);
        List<Integer> luns = new ArrayList<>();
        for (int i = 0; i < length / 8; i++) {
            luns.add(data.getShort(8 + 8 * i) & 0x3FFF);
        }
        return luns;
    }

    @Test
    void aclEntriesMatchNamesWithoutCaseAndAddressesByRange() throws Exception {
        Acl acl = new Acl(List.of(entry("iqn.2026-01.org.example:host1", List.of(0, 3), List.of("192.0.2.0/25"))));
        assertThat(acl.entryFor("IQN.2026-01.ORG.EXAMPLE:HOST1")).isNotNull();
        assertThat(acl.entryFor("iqn.2026-01.org.example:host2")).isNull();
        assertThat(acl.admits("iqn.2026-01.org.example:host1", InetAddress.getByName("192.0.2.100"))).isTrue();
        assertThat(acl.admits("iqn.2026-01.org.example:host1", InetAddress.getByName("192.0.2.200"))).isFalse();
        assertThat(acl.admits("iqn.2026-01.org.example:host1", null)).isFalse();
        assertThat(new Acl(List.of()).admits("anyone", null)).as("no acl: everyone").isTrue();
        assertThat(new Acl(List.of()).entryFor("anyone").allowsLun(42)).isTrue();
    }
}
