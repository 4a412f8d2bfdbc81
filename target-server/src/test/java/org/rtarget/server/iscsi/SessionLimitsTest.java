package org.rtarget.server.iscsi;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** max-sessions-per-target and max-sessions-per-initiator: refused with 0x0302 (out of resources). */
class SessionLimitsTest {
    private static final String SECOND_IQN = "iqn.2026-01.org.rtarget.test:second";

    private TestTarget target;
    private final LogCapture log = new LogCapture();

    @AfterEach
    void close() {
        log.close();
        if (target != null) {
            target.close();
        }
    }

    private TestInitiator connect(long isid) {
        TestInitiator ini = target.connect();
        ini.isid = isid;
        return ini;
    }

    private static List<String> keys(String initiatorName, String targetName) {
        List<String> keys = TestInitiator.normalKeys(targetName, 262144);
        keys.set(0, "InitiatorName=" + initiatorName);
        return keys;
    }

    @Test
    void theSessionBeyondTheTargetLimitGets0302() {
        target = TestTarget.builder().sessionLimits(2, 16).build();
        assertThat(connect(1).login(keys(TestInitiator.NAME, TestTarget.IQN)).loginStatus()).isZero();
        assertThat(connect(2).login(keys("iqn.2026-01.org.example:b", TestTarget.IQN))
                .loginStatus()).isZero();

        TestInitiator third = connect(3);
        WirePdu r = third.login(keys("iqn.2026-01.org.example:c", TestTarget.IQN));
        assertThat(r.loginStatus()).isEqualTo(0x0302);
        assertThat(r.tsih()).isZero();
        third.channel.runPendingTasks();
        assertThat(third.channel.isOpen()).isFalse();
        assertThat(target.sessions.all()).hasSize(2);
        assertThat(log.lines()).anyMatch(l -> l.startsWith("WARN ") && l.contains("0x0302")
                && l.contains("max-sessions-per-target"));
    }

    @Test
    void reinstatingASessionAtTheLimitIsAllowed() {
        target = TestTarget.builder().sessionLimits(1, 1).build();
        TestInitiator first = connect(7);
        first.loginNormal();
        TestInitiator again = connect(7); // same ISID: replaces the first
        again.loginNormal();
        first.channel.runPendingTasks();
        assertThat(first.channel.isOpen()).isFalse();
        assertThat(target.sessions.all()).hasSize(1);
    }

    @Test
    void theInitiatorLimitCountsItsSessionsOnEveryTarget() {
        IscsiTarget second = new IscsiTarget(SECOND_IQN, null, 8, null, Map.of());
        target = TestTarget.builder().sessionLimits(64, 1).other(second).build();
        connect(1).loginNormal();

        WirePdu r = connect(2).login(keys(TestInitiator.NAME, SECOND_IQN));
        assertThat(r.loginStatus()).isEqualTo(0x0302);
        assertThat(log.lines()).anyMatch(l -> l.contains("max-sessions-per-initiator"));

        // another initiator is not affected
        assertThat(connect(3).login(keys("iqn.2026-01.org.example:other", SECOND_IQN)).loginStatus()).isZero();
    }

    @Test
    void aSessionThatEndsFreesItsPlace() {
        target = TestTarget.builder().sessionLimits(1, 16).build();
        TestInitiator first = connect(1);
        first.loginNormal();
        first.channel.close();
        connect(2).loginNormal();
    }

    @Test
    void discoverySessionsDoNotCount() {
        target = TestTarget.builder().sessionLimits(1, 1).build();
        for (int i = 0; i < 3; i++) {
            TestInitiator ini = connect(10 + i);
            assertThat(ini.login(List.of("InitiatorName=" + TestInitiator.NAME, "SessionType=Discovery")).loginStatus())
                    .isZero();
        }
        connect(1).loginNormal();
    }
}
