package org.rtarget.server.iscsi;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The login phase end to end on the server's pipeline (decoder + connection), fed with the recorded
 * login requests of real initiators.
 */
class LoginPhaseTest {
    private static final String LIBISCSI_DISCOVERY = "libiscsi-discovery-inquiry/0001-c1-I2T-Login-Request.bin";
    private static final String LIBISCSI_SENDTARGETS = "libiscsi-discovery-inquiry/0003-c1-I2T-Text-Request.bin";
    private static final String LIBISCSI_NORMAL = "libiscsi-discovery-inquiry/0005-c2-I2T-Login-Request.bin";

    private final TestTarget target = new TestTarget();

    @AfterEach
    void close() {
        target.close();
    }

    private static long count(List<String> keys, String key) {
        return keys.stream().filter(k -> k.startsWith(key + "=")).count();
    }

    @Test
    void libiscsisRecordedDiscoveryLoginSucceeds() {
        TestInitiator ini = target.connect();
        ini.send(Captures.pdu(LIBISCSI_DISCOVERY));

        WirePdu r = ini.receiveOne();
        assertThat(r.opcode()).isEqualTo(TestPdus.LOGIN_RESPONSE);
        assertThat(r.flags()).as("T=1 CSG=Operational NSG=FullFeature").isEqualTo(0x87);
        assertThat(r.loginStatus()).isZero();
        assertThat(r.tsih()).isNotZero();
        assertThat(r.byte2()).as("version-max").isZero();
        assertThat(r.byte3()).as("version-active").isZero();
        // Echoed / derived from the request: isid=803c029d0000 itt=0x3714b8d6 cmdsn=1262858744 expstatsn=1
        assertThat(r.isid()).isEqualTo(0x803c029d0000L);
        assertThat(r.itt()).isEqualTo(0x3714b8d6);
        assertThat(r.statSn()).isEqualTo(1);
        assertThat(r.expCmdSn()).isEqualTo(1262858744);

        List<String> keys = r.keys();
        assertThat(count(keys, "TargetPortalGroupTag")).as("no portal group tag for discovery").isZero();
        assertThat(keys).filteredOn(k -> k.startsWith("MaxRecvDataSegmentLength="))
                .containsExactly("MaxRecvDataSegmentLength=262144");
        assertThat(keys).noneMatch(k -> k.startsWith("InitiatorName=") || k.startsWith("SessionType="))
                .noneMatch(k -> k.endsWith("=NotUnderstood") || k.endsWith("=Reject"));
        assertThat(ini.channel.isOpen()).isTrue();
        assertThat(target.sessions.byTsih(r.tsih())).isNotNull().matches(IscsiSession::discovery);
    }

    @Test
    void sendTargetsAllInTheDiscoverySessionListsTheTarget() {
        TestInitiator ini = target.connect();
        ini.send(Captures.pdu(LIBISCSI_DISCOVERY));
        WirePdu login = ini.receiveOne();
        ini.send(Captures.pdu(LIBISCSI_SENDTARGETS)); // itt=0x3714b8d7, SendTargets=All

        WirePdu r = ini.receiveOne();
        assertThat(r.opcode()).isEqualTo(TestPdus.TEXT_RESPONSE);
        assertThat(r.finalBit()).isTrue();
        assertThat(r.itt()).isEqualTo(0x3714b8d7);
        assertThat(r.ttt()).isEqualTo(TestPdus.RESERVED);
        assertThat(r.statSn()).isEqualTo(login.statSn() + 1);
        assertThat(r.keys()).containsExactly("TargetName=" + TestTarget.IQN, "TargetAddress=127.0.0.1:3260,1");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({
            "libiscsi-discovery-inquiry/0005-c2-I2T-Login-Request.bin, None",
            "kernel-open-iscsi/0005-c2-I2T-Login-Request.bin, None",
            "qemu-rw/0001-c1-I2T-Login-Request.bin, None",
            "qemu-rw-digests/0001-c1-I2T-Login-Request.bin, CRC32C",
    })
    void aRealInitiatorsNormalLoginToOurTargetName(String file, String headerDigest) {
        byte[] request = Captures.withPairs(Captures.pdu(file), l -> Captures.replace(l, "TargetName", TestTarget.IQN));
        TestInitiator ini = target.connect();
        ini.send(request);

        WirePdu r = ini.receiveOne();
        assertThat(r.opcode()).isEqualTo(TestPdus.LOGIN_RESPONSE);
        assertThat(r.loginStatus()).isZero();
        assertThat(r.flags()).isEqualTo(0x87);
        assertThat(r.tsih()).isNotZero();
        List<String> keys = r.keys();
        assertThat(keys).filteredOn(k -> k.startsWith("TargetPortalGroupTag="))
                .containsExactly("TargetPortalGroupTag=1");
        assertThat(keys).contains("HeaderDigest=" + headerDigest, "DataDigest=None");
        assertThat(count(keys, "MaxRecvDataSegmentLength")).isOne();
        assertThat(ini.channel.isOpen()).isTrue();

        IscsiSession session = target.sessions.byTsih(r.tsih());
        assertThat(session).isNotNull();
        assertThat(session.target()).isSameAs(target.target);
        assertThat(session.params().headerDigest()).isEqualTo(headerDigest.equals("CRC32C"));
    }

    @Test
    void libiscsisLoginThroughTheSecurityStageGetsAuthMethodNone() {
        // libiscsi-chap-mutual: first "AuthMethod=CHAP,None" (Security -> Operational), then the
        // operational keys (Operational -> FullFeature). Our target has no CHAP: None is chosen.
        TestInitiator ini = target.connect();
        ini.send(Captures.withPairs(Captures.pdu("libiscsi-chap-mutual/0001-c1-I2T-Login-Request.bin"),
                l -> Captures.replace(l, "TargetName", TestTarget.IQN)));
        WirePdu security = ini.receiveOne();
        assertThat(security.loginStatus()).isZero();
        assertThat(security.flags()).as("T=1 CSG=Security NSG=Operational").isEqualTo(0x81);
        assertThat(security.tsih()).as("no session before the final response").isZero();
        assertThat(security.keys()).contains("AuthMethod=None", "TargetPortalGroupTag=1");
        assertThat(ini.channel.isOpen()).isTrue();

        ini.send(Captures.pdu("libiscsi-chap-mutual/0007-c1-I2T-Login-Request.bin"));
        WirePdu operational = ini.receiveOne();
        assertThat(operational.loginStatus()).isZero();
        assertThat(operational.flags()).isEqualTo(0x87);
        assertThat(operational.tsih()).isNotZero();
        assertThat(operational.statSn()).isEqualTo(security.statSn() + 1);
        assertThat(count(operational.keys(), "MaxRecvDataSegmentLength")).isOne();
        assertThat(count(security.keys(), "TargetPortalGroupTag") + count(operational.keys(), "TargetPortalGroupTag"))
                .as("TargetPortalGroupTag declared once").isOne();
        assertThat(target.sessions.byTsih(operational.tsih())).isNotNull();
    }

    @Test
    void aLoginToATargetWeDoNotHaveGets0203AndTheConnectionCloses() {
        TestInitiator ini = target.connect();
        ini.send(Captures.pdu(LIBISCSI_NORMAL)); // TargetName=iqn.2026-11.test:capture, tgt's target

        WirePdu r = ini.receiveOne();
        assertThat(r.opcode()).isEqualTo(TestPdus.LOGIN_RESPONSE);
        assertThat(r.loginStatus()).isEqualTo(0x0203);
        assertThat(r.tsih()).isZero();
        assertThat(r.itt()).isEqualTo(0x57d2fb7e);
        ini.channel.runPendingTasks();
        assertThat(ini.channel.isOpen()).isFalse();
        assertThat(target.sessions.all()).isEmpty();
    }

    @Test
    void aLoginWithoutInitiatorNameGets0207() {
        byte[] request = Captures.withPairs(Captures.pdu(LIBISCSI_NORMAL), l -> {
            l.removeIf(p -> p.startsWith("InitiatorName="));
            return Captures.replace(l, "TargetName", TestTarget.IQN);
        });
        TestInitiator ini = target.connect();
        ini.send(request);

        assertThat(ini.receiveOne().loginStatus()).isEqualTo(0x0207);
        ini.channel.runPendingTasks();
        assertThat(ini.channel.isOpen()).isFalse();
        assertThat(target.sessions.all()).isEmpty();
    }

    @Test
    void aLoginNeedingAVersionAbove0Gets0205() {
        byte[] request = Captures.withPairs(Captures.pdu(LIBISCSI_NORMAL),
                l -> Captures.replace(l, "TargetName", TestTarget.IQN));
        request[3] = 1; // version-min
        request[2] = 1; // version-max
        TestInitiator ini = target.connect();
        ini.send(request);

        WirePdu r = ini.receiveOne();
        assertThat(r.loginStatus()).isEqualTo(0x0205);
        assertThat(r.byte2()).as("version-max we support").isZero();
        ini.channel.runPendingTasks();
        assertThat(ini.channel.isOpen()).isFalse();
        assertThat(target.sessions.all()).isEmpty();
    }

    @Test
    void aScsiCommandBeforeLoginClosesTheConnection() {
        TestInitiator ini = target.connect();
        ini.send(TestPdus.scsiCommand(TestPdus.F | TestPdus.READ | TestPdus.SIMPLE, 0, 1, 512, 1, 0,
                TestPdus.read10(0, 1), null));
        ini.channel.runPendingTasks();
        assertThat(ini.received()).isEmpty();
        assertThat(ini.channel.isOpen()).isFalse();
    }

    @Test
    void aConnectionThatDoesNotLogInInTimeIsClosed() throws InterruptedException {
        try (TestTarget impatient = new TestTarget(Duration.ofMillis(20))) {
            TestInitiator loggedIn = impatient.connect();
            loggedIn.loginNormal();
            TestInitiator idle = impatient.connect();
            Thread.sleep(100); // the timeout is measured in real time
            for (TestInitiator ini : List.of(loggedIn, idle)) {
                ini.channel.advanceTimeBy(2, TimeUnit.SECONDS); // the periodic timer is due
                ini.channel.runScheduledPendingTasks();
            }
            assertThat(idle.channel.isOpen()).isFalse();
            assertThat(loggedIn.channel.isOpen()).isTrue();
        }
    }
}
