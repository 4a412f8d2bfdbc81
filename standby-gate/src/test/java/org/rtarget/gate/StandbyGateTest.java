package org.rtarget.gate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.rtarget.gate.GateFixture.errno;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.rtarget.backend.Errno;
import org.rtarget.backend.IoFailure;
import org.rtarget.gate.StandbyGate.Admission;
import org.slf4j.LoggerFactory;

/** The gate's state machine: fuses, entering and leaving standby, BUSY, busy-max and its metrics. */
class StandbyGateTest {

    /** With either fuse off the gate touches nothing; a flag found set anyway is warned about only. */
    @Nested
    class Fuses {
        private final Logger gateLog = (Logger) LoggerFactory.getLogger(StandbyGate.class);
        private final ListAppender<ILoggingEvent> logged = new ListAppender<>();

        @BeforeEach
        void captureLog() {
            logged.start();
            gateLog.addAppender(logged);
        }

        @AfterEach
        void releaseLog() {
            gateLog.detachAppender(logged);
        }

        @Test
        void keyOffGateNeverActs() {
            GateFixture f = new GateFixture(false, GateFixture.policy(Duration.ZERO, GatePolicy.Fallback.NOT_READY), null);
            f.gate.enable();

            assertThat(f.gate.failureMeansBusy(errno(Errno.ENOTCONN))).isFalse();
            f.gate.storageLost(IoFailure.of(IoFailure.Kind.UNAVAILABLE, 0, "driver died"));

            assertThat(f.gate.inStandby()).isFalse();
            assertThat(f.gate.admit()).isEqualTo(Admission.PASS);
            // busy-max is zero: had standby begun, the path check would give the fallback at once
            assertThat(f.gate.admitPathCheck()).isEqualTo(Admission.PASS);
            assertThat(f.gate.state()).isEqualTo("off");
            assertThat(f.transitionsTo("on")).isZero();
            assertThat(f.busyAnswers()).isZero();
            assertThat(f.inconsistencies()).isZero();
        }

        @Test
        void enableOffGateNeverActs() {
            GateFixture f = new GateFixture(true, GateFixture.policy(Duration.ZERO, GatePolicy.Fallback.NOT_READY), null);

            assertThat(f.gate.enabled()).isFalse();
            assertThat(f.gate.failureMeansBusy(errno(Errno.EBUSY))).isFalse();
            f.gate.storageLost(IoFailure.of(IoFailure.Kind.UNAVAILABLE, 0, "driver died"));

            assertThat(f.gate.inStandby()).isFalse();
            assertThat(f.gate.admit()).isEqualTo(Admission.PASS);
            assertThat(f.gate.admitPathCheck()).isEqualTo(Admission.PASS);
            assertThat(f.gate.state()).isEqualTo("not supported");
            assertThat(f.enabledGauge()).isZero();
            assertThat(f.transitionsTo("on")).isZero();
            assertThat(f.inconsistencies()).isZero();
        }

        @Test
        void flagFoundSetWithTheKeyOffIsCountedAndNotActedOn() {
            GateFixture f = GateFixture.enabled();
            assertThat(f.gate.failureMeansBusy(errno(Errno.ENOTCONN))).isTrue();
            double busyBefore = f.busyAnswers();

            f.key.set(false);

            assertThat(f.gate.admit()).isEqualTo(Admission.PASS);
            assertThat(f.inconsistencies()).isEqualTo(1);
            assertThat(f.gate.failureMeansBusy(errno(Errno.ENOTCONN))).isFalse();
            assertThat(f.inconsistencies()).isEqualTo(2);
            assertThat(f.busyAnswers()).isEqualTo(busyBefore);
            assertThat(logged.list).anySatisfy(e -> {
                assertThat(e.getLevel()).isEqualTo(Level.WARN);
                assertThat(e.getFormattedMessage()).contains(GateFixture.LUN).contains("standby flag is set");
            });
            // not acted on means not cleared either: only the storage's recovery clears it
            assertThat(f.gate.inStandby()).isTrue();
            assertThat(f.transitionsTo("off")).isZero();

            f.key.set(true);
            assertThat(f.gate.admit()).isEqualTo(Admission.BUSY);
        }

        @Test
        void flagFoundSetWithTheLunDisabledIsCountedAndNotActedOn() {
            GateFixture f = GateFixture.enabled();
            f.gate.storageLost(IoFailure.of(IoFailure.Kind.UNAVAILABLE, 0, "driver died"));
            assertThat(f.gate.admit()).isEqualTo(Admission.BUSY);

            f.gate.disable();

            assertThat(f.gate.state()).isEqualTo("not supported");
            assertThat(f.gate.admit()).isEqualTo(Admission.PASS);
            assertThat(f.gate.admit()).isEqualTo(Admission.PASS);
            assertThat(f.gate.failureMeansBusy(errno(Errno.EIO))).isFalse();
            assertThat(f.inconsistencies()).isEqualTo(3);
            assertThat(f.busyAnswers()).isEqualTo(1);
            assertThat(logged.list).anySatisfy(e -> assertThat(e.getLevel()).isEqualTo(Level.WARN));
        }

        @Test
        void noInconsistencyWhileTheFlagIsClear() {
            GateFixture f = GateFixture.standard(); // enable fuse off, flag clear: all is as it should be
            for (int i = 0; i < 10; i++) {
                f.gate.admit();
                f.gate.failureMeansBusy(errno(Errno.ENOTCONN));
            }
            assertThat(f.inconsistencies()).isZero();
        }
    }

    /** Which failures switch standby on: the policy's errnos, or no errno and a dead storage. */
    @Nested
    class Entering {

        @ParameterizedTest(name = "errno {0}")
        @ValueSource(ints = {Errno.EBUSY, Errno.ENOTCONN, Errno.EIO})
        void defaultErrnosEnterStandby(int e) {
            GateFixture f = GateFixture.enabled();
            assertThat(f.gate.failureMeansBusy(errno(e))).isTrue();
            assertThat(f.gate.inStandby()).isTrue();
            assertThat(f.gate.state()).isEqualTo("on");
            assertThat(f.transitionsTo("on")).isEqualTo(1);
            assertThat(f.busyAnswers()).isEqualTo(1);
        }

        @ParameterizedTest(name = "errno {0}")
        @ValueSource(ints = {Errno.ENOSPC, Errno.EDQUOT, Errno.EROFS, Errno.EINVAL, Errno.ETIMEDOUT,
            Errno.ESTALE /* kind UNAVAILABLE, but an errno outside the set decides */})
        void otherErrnosAreOrdinaryErrors(int e) {
            GateFixture f = GateFixture.enabled();
            assertThat(f.gate.failureMeansBusy(errno(e))).isFalse();
            assertThat(f.gate.inStandby()).isFalse();
            assertThat(f.gate.state()).isEqualTo("off");
            assertThat(f.gate.admit()).isEqualTo(Admission.PASS);
            assertThat(f.transitionsTo("on")).isZero();
            assertThat(f.busyAnswers()).isZero();
        }

        @Test
        void aCustomSetReplacesTheDefaults() {
            GatePolicy custom = GatePolicy.of(List.of(Errno.ENOSPC, Errno.ETIMEDOUT), GateFixture.LONG,
                    GatePolicy.Fallback.NOT_READY);
            GateFixture f = new GateFixture(true, custom, null);
            f.gate.enable();

            assertThat(f.gate.failureMeansBusy(errno(Errno.ENOTCONN))).isFalse();
            assertThat(f.gate.failureMeansBusy(errno(Errno.EIO))).isFalse();
            assertThat(f.gate.failureMeansBusy(errno(Errno.EBUSY))).isFalse();
            assertThat(f.gate.inStandby()).isFalse();

            assertThat(f.gate.failureMeansBusy(errno(Errno.ENOSPC))).isTrue();
            assertThat(f.gate.inStandby()).isTrue();

            GateFixture g = new GateFixture(true, custom, null);
            g.gate.enable();
            assertThat(g.gate.failureMeansBusy(errno(Errno.ETIMEDOUT))).isTrue();
        }

        @Test
        void failureWithoutErrnoCountsOnlyWhenTheStorageIsUnavailable() {
            GateFixture f = GateFixture.enabled();
            assertThat(f.gate.failureMeansBusy(IoFailure.of(IoFailure.Kind.MEDIUM_ERROR, 0, "bad block"))).isFalse();
            assertThat(f.gate.failureMeansBusy(IoFailure.of(IoFailure.Kind.INTERNAL, 0, "bug"))).isFalse();
            assertThat(f.gate.inStandby()).isFalse();

            assertThat(f.gate.failureMeansBusy(IoFailure.of(IoFailure.Kind.UNAVAILABLE, 0, "driver crashed"))).isTrue();
            assertThat(f.gate.inStandby()).isTrue();
        }

        @Test
        void policyAnswersByErrnoThenByKind() {
            GatePolicy defaults = GateFixture.policy(GateFixture.LONG, GatePolicy.Fallback.NOT_READY);
            assertThat(defaults.storageUnavailable(errno(Errno.EBUSY))).isTrue();
            assertThat(defaults.storageUnavailable(errno(Errno.ENOTCONN))).isTrue();
            assertThat(defaults.storageUnavailable(errno(Errno.EIO))).isTrue();
            assertThat(defaults.storageUnavailable(errno(Errno.ENOSPC))).isFalse();
            assertThat(defaults.storageUnavailable(IoFailure.of(IoFailure.Kind.UNAVAILABLE, 0, "x"))).isTrue();
            assertThat(defaults.storageUnavailable(IoFailure.of(IoFailure.Kind.MEDIUM_ERROR, 0, "x"))).isFalse();
            GatePolicy empty = GatePolicy.of(List.of(), GateFixture.LONG, GatePolicy.Fallback.NOT_READY);
            assertThat(empty.storageUnavailable(errno(Errno.ENOTCONN))).isFalse();
        }

        @Test
        void storageLostEntersStandbyWithoutAFailedRequest() {
            GateFixture f = GateFixture.enabled();
            f.gate.storageLost(IoFailure.of(IoFailure.Kind.UNAVAILABLE, 0, "driver died"));

            assertThat(f.gate.inStandby()).isTrue();
            assertThat(f.gate.state()).isEqualTo("on");
            assertThat(f.transitionsTo("on")).isEqualTo(1);
            assertThat(f.busyAnswers()).isZero(); // nothing was answered yet
            assertThat(f.gate.admit()).isEqualTo(Admission.BUSY);
            assertThat(f.busyAnswers()).isEqualTo(1);
        }

        @Test
        void aSecondFailureDuringStandbyIsNoNewTransition() {
            GateFixture f = GateFixture.enabled();
            assertThat(f.gate.failureMeansBusy(errno(Errno.ENOTCONN))).isTrue();
            assertThat(f.gate.failureMeansBusy(errno(Errno.EBUSY))).isTrue();
            f.gate.storageLost(IoFailure.of(IoFailure.Kind.UNAVAILABLE, 0, "driver died"));
            assertThat(f.transitionsTo("on")).isEqualTo(1);
            assertThat(f.busyAnswers()).isEqualTo(2);
        }
    }

    /** While on: BUSY; off again only through the storage's recovery. */
    @Nested
    class WhileOn {

        @Test
        void mediaCommandsAreBusyUntilTheStorageRecovers() {
            GateFixture f = GateFixture.enabled();
            assertThat(f.gate.admit()).isEqualTo(Admission.PASS);
            assertThat(f.gate.failureMeansBusy(errno(Errno.ENOTCONN))).isTrue();

            for (int i = 0; i < 3; i++) {
                assertThat(f.gate.admit()).isEqualTo(Admission.BUSY);
            }
            assertThat(f.gate.admitPathCheck()).isEqualTo(Admission.PASS);
            assertThat(f.busyAnswers()).isEqualTo(4); // the failed command and three refused ones
            assertThat(f.activeGauge()).isEqualTo(1);

            f.gate.storageRecovered();

            assertThat(f.gate.inStandby()).isFalse();
            assertThat(f.gate.state()).isEqualTo("off");
            assertThat(f.gate.admit()).isEqualTo(Admission.PASS);
            assertThat(f.gate.admitPathCheck()).isEqualTo(Admission.PASS);
            assertThat(f.busyAnswers()).isEqualTo(4);
            assertThat(f.activeGauge()).isZero();
            assertThat(f.transitionsTo("off")).isEqualTo(1);
        }

        @Test
        void onlyTheRecoverySignalLeavesStandby() {
            GateFixture f = GateFixture.enabled();
            f.gate.failureMeansBusy(errno(Errno.EIO));

            // everything else the gate hears leaves it on
            f.gate.admit();
            f.gate.admitPathCheck();
            assertThat(f.gate.failureMeansBusy(errno(Errno.ENOSPC))).isFalse(); // an ordinary error, no recovery
            f.gate.storageLost(IoFailure.of(IoFailure.Kind.UNAVAILABLE, 0, "again"));
            f.gate.enable();
            f.key.set(true);
            f.gate.policy(GateFixture.policy(Duration.ofSeconds(30), GatePolicy.Fallback.DROP));
            assertThat(f.gate.inStandby()).isTrue();
            assertThat(f.gate.admit()).isEqualTo(Admission.BUSY);
            assertThat(f.transitionsTo("off")).isZero();

            f.gate.storageRecovered();
            assertThat(f.gate.inStandby()).isFalse();
            f.gate.storageRecovered(); // a second signal with nothing to recover from is no transition
            assertThat(f.transitionsTo("off")).isEqualTo(1);
        }

        @Test
        void standbyCanComeBackAfterARecovery() {
            GateFixture f = GateFixture.enabled();
            for (int round = 1; round <= 3; round++) {
                assertThat(f.gate.failureMeansBusy(errno(Errno.ENOTCONN))).isTrue();
                assertThat(f.gate.admit()).isEqualTo(Admission.BUSY);
                f.gate.storageRecovered();
                assertThat(f.gate.admit()).isEqualTo(Admission.PASS);
                assertThat(f.transitionsTo("on")).isEqualTo(round);
                assertThat(f.transitionsTo("off")).isEqualTo(round);
            }
        }
    }

    /** After standby-busy-max: the operator's fallback, for media commands and path checks alike. */
    @Nested
    class BusyMax {

        @ParameterizedTest
        @EnumSource(GatePolicy.Fallback.class)
        void fallbackAfterBusyMax(GatePolicy.Fallback fallback) throws InterruptedException {
            Duration busyMax = Duration.ofMillis(200);
            GateFixture f = new GateFixture(true, GateFixture.policy(busyMax, fallback), null);
            f.gate.enable();
            Admission expected = switch (fallback) {
                case NOT_READY -> Admission.NOT_READY;
                case HARDWARE_ERROR -> Admission.HARDWARE_ERROR;
                case DROP -> Admission.DROP;
            };

            long start = System.nanoTime();
            assertThat(f.gate.failureMeansBusy(errno(Errno.ENOTCONN))).isTrue();
            Admission early = f.gate.admit();
            Admission earlyCheck = f.gate.admitPathCheck();
            if (System.nanoTime() - start < busyMax.toNanos()) { // a stalled machine proves nothing here
                assertThat(early).isEqualTo(Admission.BUSY);
                assertThat(earlyCheck).isEqualTo(Admission.PASS);
            }

            sleepPast(start, busyMax);

            double busy = f.busyAnswers();
            assertThat(f.gate.admit()).isEqualTo(expected);
            assertThat(f.gate.admit()).isEqualTo(expected);
            assertThat(f.gate.admitPathCheck()).isEqualTo(expected);
            assertThat(f.fallbackAnswers()).isEqualTo(3);
            assertThat(f.busyAnswers()).isEqualTo(busy);
            assertThat(f.gate.state()).isEqualTo("on");

            f.gate.storageRecovered();
            assertThat(f.gate.admit()).isEqualTo(Admission.PASS);
            assertThat(f.gate.admitPathCheck()).isEqualTo(Admission.PASS);

            // a new outage gets a fresh busy-max of BUSY
            long again = System.nanoTime();
            f.gate.storageLost(IoFailure.of(IoFailure.Kind.UNAVAILABLE, 0, "again"));
            Admission second = f.gate.admit();
            if (System.nanoTime() - again < busyMax.toNanos()) {
                assertThat(second).isEqualTo(Admission.BUSY);
            }
        }

        @Test
        void aReloadedPolicyAppliesToTheCurrentOutage() {
            GateFixture f = GateFixture.enabled();
            f.gate.failureMeansBusy(errno(Errno.EBUSY));
            assertThat(f.gate.admit()).isEqualTo(Admission.BUSY);

            f.gate.policy(GateFixture.policy(Duration.ZERO, GatePolicy.Fallback.HARDWARE_ERROR));
            assertThat(f.gate.admit()).isEqualTo(Admission.HARDWARE_ERROR);
            assertThat(f.gate.admitPathCheck()).isEqualTo(Admission.HARDWARE_ERROR);

            f.gate.policy(GateFixture.policy(GateFixture.LONG, GatePolicy.Fallback.HARDWARE_ERROR));
            assertThat(f.gate.admit()).isEqualTo(Admission.BUSY);
            assertThat(f.gate.admitPathCheck()).isEqualTo(Admission.PASS);
        }
    }

    @Nested
    class Metrics {

        @Test
        void transitionsAreCountedPerDirection() {
            GateFixture f = GateFixture.enabled();
            assertThat(f.transitionsTo("on")).isZero();
            assertThat(f.transitionsTo("off")).isZero();

            f.gate.failureMeansBusy(errno(Errno.ENOTCONN));
            assertThat(f.transitionsTo("on")).isEqualTo(1);
            assertThat(f.transitionsTo("off")).isZero();
            f.gate.storageRecovered();
            f.gate.storageLost(IoFailure.of(IoFailure.Kind.UNAVAILABLE, 0, "driver died"));
            assertThat(f.transitionsTo("on")).isEqualTo(2);
            assertThat(f.transitionsTo("off")).isEqualTo(1);
            f.gate.storageRecovered();
            assertThat(f.transitionsTo("off")).isEqualTo(2);
        }

        @Test
        void timeInStandbyGrowsOnlyWhileOn() throws InterruptedException {
            GateFixture f = GateFixture.enabled();
            Thread.sleep(30);
            assertThat(f.standbySeconds()).isZero();

            f.gate.failureMeansBusy(errno(Errno.ENOTCONN));
            Thread.sleep(60);
            double during = f.standbySeconds();
            assertThat(during).isGreaterThanOrEqualTo(0.05);
            Thread.sleep(30);
            assertThat(f.standbySeconds()).isGreaterThan(during);

            f.gate.storageRecovered();
            double after = f.standbySeconds();
            assertThat(after).isGreaterThanOrEqualTo(0.08);
            Thread.sleep(30);
            assertThat(f.standbySeconds()).isEqualTo(after);

            // a second stretch adds to the first
            f.gate.failureMeansBusy(errno(Errno.EBUSY));
            Thread.sleep(40);
            f.gate.storageRecovered();
            assertThat(f.standbySeconds()).isGreaterThanOrEqualTo(after + 0.035);
        }

        @Test
        void gaugesShowTheFuseAndTheState() {
            GateFixture f = GateFixture.standard();
            assertThat(f.enabledGauge()).isZero();
            f.gate.enable();
            assertThat(f.enabledGauge()).isEqualTo(1);
            assertThat(f.activeGauge()).isZero();
            f.gate.failureMeansBusy(errno(Errno.ENOTCONN));
            assertThat(f.activeGauge()).isEqualTo(1);
            f.gate.storageRecovered();
            assertThat(f.activeGauge()).isZero();
            f.gate.disable();
            assertThat(f.enabledGauge()).isZero();
        }
    }

    private static void sleepPast(long startNanos, Duration d) throws InterruptedException {
        long until = startNanos + d.toNanos() + 20_000_000L;
        long left;
        while ((left = until - System.nanoTime()) > 0) {
            Thread.sleep(Math.max(1, left / 1_000_000));
        }
    }
}
