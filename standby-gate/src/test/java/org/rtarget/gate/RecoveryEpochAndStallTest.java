package org.rtarget.gate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.rtarget.gate.GateFixture.errno;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.rtarget.backend.Errno;
import org.rtarget.backend.IoFailure;
import org.rtarget.gate.StandbyGate.Admission;

/**
 * What makes recovery safe under late answers: epochs (a straggler of replaced storage changes
 * nothing), commands counted at the device (drain, stalls) and latched writeback errors.
 */
class RecoveryEpochAndStallTest {
    private static final Duration STALL = Duration.ofSeconds(5);
    private static final long SECOND = 1_000_000_000L;

    private static GateFixture stallingGate() {
        GateFixture f = new GateFixture(true, GatePolicy.of(GateFixture.DEFAULT_ERRNOS, GateFixture.LONG,
                GatePolicy.Fallback.NOT_READY, STALL), null);
        f.gate.enable();
        return f;
    }

    @Nested
    class Epochs {
        @Test
        void aFailureFromBeforeTheRecoveryIsAnsweredBusyAndLeavesStandbyOff() {
            GateFixture f = GateFixture.enabled();
            int before = f.gate.epoch();
            assertThat(f.gate.failureMeansBusy(errno(Errno.ENOTCONN), before)).isTrue();
            assertThat(f.gate.inStandby()).isTrue();

            f.gate.storageRecovered();
            assertThat(f.gate.epoch()).isNotEqualTo(before);
            assertThat(f.gate.inStandby()).isFalse();

            // a straggler of the old storage fails late: BUSY for it, nothing else
            assertThat(f.gate.failureMeansBusy(errno(Errno.ENOTCONN), before)).isTrue();
            assertThat(f.gate.failureMeansBusy(errno(Errno.ENOSPC), before)).as("whatever the failure").isTrue();
            assertThat(f.gate.inStandby()).isFalse();
            assertThat(f.gate.admit()).isEqualTo(Admission.PASS);
            assertThat(f.transitionsTo("on")).isEqualTo(1);

            // a failure of the current storage still counts
            assertThat(f.gate.failureMeansBusy(errno(Errno.ENOTCONN), f.gate.epoch())).isTrue();
            assertThat(f.gate.inStandby()).isTrue();
        }

        @Test
        void onlyAMoveOfTheStorageMakesAnEarlierSuccessStale() {
            GateFixture f = GateFixture.enabled();
            int before = f.gate.epoch();
            f.gate.storageRecovered(); // a new driver for the same storage
            assertThat(f.gate.movedSince(before)).isFalse();
            int afterRecovery = f.gate.epoch();
            f.gate.storageMoved(); // a recovery onto another image
            assertThat(f.gate.movedSince(before)).isTrue();
            assertThat(f.gate.movedSince(afterRecovery)).isTrue();
            assertThat(f.gate.movedSince(f.gate.epoch())).isFalse();
        }

        @Test
        void aNewInstanceThatIsNotReadyYetStartsAnEpochButKeepsStandby() {
            GateFixture f = GateFixture.enabled();
            f.gate.storageLost(IoFailure.of(IoFailure.Kind.UNAVAILABLE, 0, "driver died"));
            int before = f.gate.epoch();
            f.gate.newEpoch();
            assertThat(f.gate.epoch()).isNotEqualTo(before);
            assertThat(f.gate.inStandby()).isTrue();
        }

        @Test
        void aFailedFlushStillTurnsStandbyOnForTheCommandsAfterIt() {
            GateFixture f = GateFixture.enabled();
            f.gate.failureSeen(errno(Errno.ENOTCONN), f.gate.epoch());
            assertThat(f.gate.inStandby()).isTrue();
            f.gate.storageRecovered();
            f.gate.failureSeen(errno(Errno.ENOTCONN), f.gate.epoch() - 1);
            assertThat(f.gate.inStandby()).as("not for a straggler").isFalse();
        }
    }

    @Nested
    class InFlight {
        @Test
        void commandsAreCountedAndAwaitIdleWaitsForThem() throws Exception {
            GateFixture f = GateFixture.enabled();
            int a = f.gate.begin();
            int b = f.gate.begin();
            assertThat(f.gate.inFlight()).isEqualTo(2);
            assertThat(f.gate.awaitIdle(Duration.ofMillis(50))).isFalse();
            f.gate.end(a);
            Thread ender = Thread.ofVirtual().start(() -> f.gate.end(b));
            assertThat(f.gate.awaitIdle(Duration.ofSeconds(10))).isTrue();
            ender.join();
            assertThat(f.gate.inFlight()).isZero();
        }

        @Test
        void aPausedGateAnswersBusyWithoutStandby() {
            GateFixture f = GateFixture.enabled();
            f.gate.pause();
            assertThat(f.gate.admit()).isEqualTo(Admission.BUSY);
            assertThat(f.gate.inStandby()).isFalse();
            f.gate.resume();
            assertThat(f.gate.admit()).isEqualTo(Admission.PASS);
        }
    }

    @Nested
    class Stalls {
        @Test
        void commandsStuckPastStallTimeoutPutTheLunInStandbyUntilTheyReturn() {
            GateFixture f = stallingGate();
            long t = System.nanoTime();
            int stuck = f.gate.begin();
            f.gate.tick(t);                 // retires the empty generation: the stuck one is now the old one
            f.gate.tick(t + SECOND);
            assertThat(f.gate.inStandby()).as("one second is no stall").isFalse();
            int quick = f.gate.begin();
            f.gate.end(quick);
            f.gate.tick(t + 6 * SECOND);
            assertThat(f.gate.inStandby()).as("stuck for more than stall-timeout").isTrue();
            assertThat(f.gate.admit()).isEqualTo(Admission.BUSY);
            assertThat(f.gate.inFlight()).as("the stuck command stays outstanding").isEqualTo(1);

            f.gate.end(stuck);               // the storage answered at last
            f.gate.tick(t + 7 * SECOND);
            assertThat(f.gate.inStandby()).as("a stall ends when the stuck commands are back").isFalse();
            assertThat(f.gate.admit()).isEqualTo(Admission.PASS);
            assertThat(f.registry.get("rtarget.standby.stalls").tag("lun", GateFixture.LUN).counter().count())
                    .isEqualTo(1);
        }

        @Test
        void aFailureDuringAStallNeedsTheStoragesRecovery() {
            GateFixture f = stallingGate();
            long t = System.nanoTime();
            int stuck = f.gate.begin();
            f.gate.tick(t);
            f.gate.tick(t + 6 * SECOND);
            assertThat(f.gate.inStandby()).isTrue();
            assertThat(f.gate.failureMeansBusy(errno(Errno.ENOTCONN), f.gate.epoch())).isTrue();
            f.gate.end(stuck);
            f.gate.tick(t + 7 * SECOND);
            assertThat(f.gate.inStandby()).as("the storage failed: only its recovery ends standby").isTrue();
            f.gate.storageRecovered();
            assertThat(f.gate.inStandby()).isFalse();
        }

        @Test
        void withoutStallTimeoutNothingIsAStall() {
            GateFixture f = GateFixture.enabled(); // stall-timeout zero
            long t = System.nanoTime();
            f.gate.begin();
            f.gate.tick(t);
            f.gate.tick(t + 3600 * SECOND);
            assertThat(f.gate.inStandby()).isFalse();
        }
    }

    @Test
    void writebackErrorsAreCountedForTheScsiCoreToReport() {
        GateFixture f = GateFixture.enabled();
        long before = f.gate.writebackErrors();
        f.gate.writebackFailed(errno(Errno.EIO));
        f.gate.writebackLost(IoFailure.of(IoFailure.Kind.TIMEOUT, 0, "old image not synced"));
        assertThat(f.gate.writebackErrors()).isEqualTo(before + 2);
        assertThat(f.registry.get("rtarget.writeback.errors").tag("lun", GateFixture.LUN).counter().count())
                .isEqualTo(2);
        assertThat(f.gate.inStandby()).as("counting is not standby").isFalse();
        assertThat(List.of(f.gate.state())).containsExactly("off");
    }
}
