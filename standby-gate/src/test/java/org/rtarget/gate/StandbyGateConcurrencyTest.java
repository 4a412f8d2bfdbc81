package org.rtarget.gate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.rtarget.gate.GateFixture.errno;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;
import org.rtarget.backend.Errno;
import org.rtarget.backend.IoFailure;
import org.rtarget.gate.StandbyGate.Admission;
import org.slf4j.LoggerFactory;

/**
 * Many threads failing, admitting and recovering at once (I/O threads and the recovery signal race
 * in the server): no exception, only PASS or BUSY, and once they all end with the same action the
 * gate, its exported file and its counters agree with that action.
 */
class StandbyGateConcurrencyTest {
    private static final int THREADS = 8;
    private static final int ROUNDS = 1_000;
    private final Logger gateLog = (Logger) LoggerFactory.getLogger(StandbyGate.class);
    private Level savedLevel;

    @TempDir
    Path stateDir;

    @BeforeEach
    void quiet() {
        savedLevel = gateLog.getLevel();
        gateLog.setLevel(Level.ERROR); // thousands of transitions would log thousands of lines
    }

    @AfterEach
    void restore() {
        gateLog.setLevel(savedLevel);
    }

    @ParameterizedTest(name = "last action: {0}")
    @ValueSource(strings = {"failure", "recovery"})
    void concurrentCallsLeaveAConsistentState(String lastAction) throws Exception {
        GateFixture f = new GateFixture(true, GateFixture.policy(GateFixture.LONG, GatePolicy.Fallback.NOT_READY),
                stateDir);
        f.gate.enable();
        IoFailure failure = errno(Errno.ENOTCONN);
        boolean endOn = lastAction.equals("failure");
        CyclicBarrier start = new CyclicBarrier(THREADS);
        ConcurrentLinkedQueue<Throwable> problems = new ConcurrentLinkedQueue<>();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
            Thread thread = new Thread(() -> {
                try {
                    start.await();
                    ThreadLocalRandom random = ThreadLocalRandom.current();
                    for (int i = 0; i < ROUNDS; i++) {
                        switch (random.nextInt(5)) {
                            case 0 -> {
                                if (!f.gate.failureMeansBusy(failure)) {
                                    throw new AssertionError("ENOTCONN with both fuses on was not BUSY");
                                }
                            }
                            case 1 -> f.gate.storageRecovered();
                            case 2 -> {
                                Admission a = f.gate.admit();
                                if (a != Admission.PASS && a != Admission.BUSY) {
                                    throw new AssertionError("admit() gave " + a + " within busy-max");
                                }
                            }
                            case 3 -> {
                                Admission a = f.gate.admitPathCheck();
                                if (a != Admission.PASS) {
                                    throw new AssertionError("admitPathCheck() gave " + a + " within busy-max");
                                }
                            }
                            default -> {
                                if (f.gate.secondsInStandby() < 0) {
                                    throw new AssertionError("negative time in standby");
                                }
                            }
                        }
                    }
                    if (endOn) {
                        f.gate.failureMeansBusy(failure);
                    } else {
                        f.gate.storageRecovered();
                    }
                } catch (Throwable e) {
                    problems.add(e);
                }
            }, "gate-race-" + t);
            threads.add(thread);
            thread.start();
        }
        for (Thread thread : threads) {
            thread.join(30_000);
            assertThat(thread.isAlive()).as("%s finished", thread.getName()).isFalse();
        }

        assertThat(problems).isEmpty();
        String expected = endOn ? "on" : "off";
        assertThat(f.gate.inStandby()).isEqualTo(endOn);
        assertThat(f.gate.state()).isEqualTo(expected);
        assertThat(Files.readString(stateDir.resolve("block").resolve(GateFixture.LUN).resolve("queue")
                .resolve("standby"), StandardCharsets.US_ASCII)).isEqualTo(expected + "\n");
        assertThat(f.gate.admit()).isEqualTo(endOn ? Admission.BUSY : Admission.PASS);
        double on = f.transitionsTo("on");
        double off = f.transitionsTo("off");
        assertThat(on).isGreaterThanOrEqualTo(1);
        assertThat(on - off).isEqualTo(endOn ? 1 : 0);
        assertThat(f.inconsistencies()).isZero();
        assertThat(f.standbySeconds()).isGreaterThan(0);
    }
}
