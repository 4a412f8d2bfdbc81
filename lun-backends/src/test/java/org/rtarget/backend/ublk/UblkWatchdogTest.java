package org.rtarget.backend.ublk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.rtarget.backend.ublk.UblkTestSupport.KIB;
import static org.rtarget.backend.ublk.UblkTestSupport.MIB;
import static org.rtarget.backend.ublk.UblkTestSupport.pattern;
import static org.rtarget.backend.ublk.UblkTestSupport.waitForState;
import static org.rtarget.backend.ublk.UblkTestSupport.write;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rtarget.backend.IoFailure;
import org.rtarget.backend.memory.MemoryDevice;
import org.rtarget.backend.ublk.FakeDriver.IoCmd;
import org.rtarget.backend.ublk.UblkTestSupport.Io;

/**
 * The per-request watchdog with driver.request-timeout 1 s: requests no driver took expire as
 * RETRY; a request a driver holds is never failed while that driver may still perform it (the
 * driver is ended first, then the recovery mode's crash rules apply).
 */
class UblkWatchdogTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(1);

    @TempDir
    Path dir;
    private UblkTestSupport t;

    @BeforeEach
    void setUp() {
        t = new UblkTestSupport(dir);
    }

    @AfterEach
    void tearDown() throws Exception {
        t.close();
    }

    /** A request no driver took within the timeout: nothing was done, so it is to be sent again (BUSY). */
    static void assertExpiredAfterAboutASecond(Io io) {
        IoFailure f = io.awaitFailure();
        assertThat(f.kind()).as("kind of %s", f).isEqualTo(IoFailure.Kind.RETRY);
        assertThat(io.took()).as("time to the expiry").isBetween(TIMEOUT, Duration.ofMillis(1600));
    }

    @Test
    void requestsWaitingForADriverExpireAsRetry() throws Exception {
        // Queue mode, the driver crashed: new requests wait in the queue.
        UblkDevice crashed = t.device(UblkRecovery.QUEUE, 1, 2, 4 * KIB, TIMEOUT);
        t.fake(crashed).startReader().startDev().kill();
        waitForState(crashed, "QUIESCED");
        // Reissue mode, no driver ever came.
        UblkDevice neverStarted = t.device(UblkRecovery.REISSUE, 1, 2, 4 * KIB, TIMEOUT);

        Io write = write(crashed, 0, pattern(4 * KIB, 1));
        Io read = UblkTestSupport.read(crashed, 0, ByteBuffer.allocate(8 * KIB));
        Io flush = new Io();
        neverStarted.flush(flush);
        Thread.sleep(300);
        Io later = write(neverStarted, 0, pattern(512, 2));
        for (Io io : List.of(write, read, flush, later)) {
            assertExpiredAfterAboutASecond(io);
        }
        assertThat(crashed.stateName()).isEqualTo("QUIESCED");
    }

    @Test
    void aRequestADriverHoldsIsNotFailedWhileThatDriverMayStillPerformIt() throws Exception {
        // One tag: whatever the driver holds, nothing else can be dispatched. The driver runs in this
        // very process, so it cannot be ended: its request waits for it, past the timeout.
        UblkDevice device = t.device(UblkRecovery.QUEUE, 1, 1, 64 * KIB, TIMEOUT);
        FakeDriver driver = t.fake(device).startReader().startDev();

        ByteBuffer dst = ByteBuffer.allocate(4 * KIB);
        Io read = UblkTestSupport.read(device, 8 * KIB, dst);
        IoCmd held = driver.nextIo();
        assertThat(held.op()).isEqualTo(UblkProtocol.OP_READ);
        Io waiting = write(device, MIB, pattern(4 * KIB, 3)); // no tag for it
        assertExpiredAfterAboutASecond(waiting);
        assertThat(driver.heldCount()).as("the expired write was never dispatched").isZero();
        Thread.sleep(TIMEOUT.toMillis()); // twice the timeout now
        assertThat(read.isDone()).as("the held read is still the driver's").isFalse();

        // The driver answers at last: the read completes with its data.
        byte[] late = pattern(4 * KIB, 4);
        driver.slot(held).put(late);
        driver.commit(held, 4 * KIB);
        read.awaitSuccess();
        assertThat(dst.array()).isEqualTo(late);
        assertThat(driver.connectionOpen()).isTrue();
        assertThat(device.stateName()).isEqualTo("LIVE");
    }

    @Test
    void aDriverThatHoldsARequestTooLongIsKilledThenItsRequestIsReissuedToTheNextDriver() throws Exception {
        // The "driver process" is a sleeping child process: the fake driver names its pid.
        Process stuck = new ProcessBuilder("sleep", "600").start();
        try {
            UblkDevice device = t.device(UblkRecovery.REISSUE, 1, 2, 64 * KIB, TIMEOUT);
            FakeDriver first = FakeDriver.connect(device.socketPath());
            first.pid = stuck.pid();
            first.startReader().startDev();

            byte[] data = pattern(4 * KIB, 7);
            Io io = write(device, 0, data);
            IoCmd held = first.nextIo();
            assertThat(held.op()).isEqualTo(UblkProtocol.OP_WRITE);

            // Past the timeout the target ends the driver and waits for it to be gone: only then are
            // its requests re-issued, so none of them can land after a newer write.
            assertThat(stuck.waitFor(5, TimeUnit.SECONDS)).as("the stuck driver was killed").isTrue();
            assertThat(first.awaitClosedByTarget(Duration.ofSeconds(5))).isTrue();
            waitForState(device, "QUIESCED");
            assertThat(io.isDone()).as("the held write is neither failed nor done").isFalse();

            MemoryDevice store = new MemoryDevice(8L * MIB, 512);
            FakeDriver second = t.fake(device).serve(store).recover();
            io.awaitSuccess();
            assertThat(UblkTestSupport.readStore(store, 0, data.length)).isEqualTo(data);
            assertThat(device.stateName()).isEqualTo("LIVE");
            second.close();
            first.close();
        } finally {
            stuck.destroyForcibly();
        }
    }

    /** A caller's bug must neither stop the watchdog nor be taken for a driver crash. */
    @Test
    void aCallbackThatThrowsIsNeitherADriverCrashNorTheEndOfTheWatchdog() throws Exception {
        org.rtarget.backend.IoCallback buggy = new org.rtarget.backend.IoCallback() {
            @Override
            public void completed() {
                throw new IllegalStateException("a buggy caller");
            }

            @Override
            public void failed(IoFailure failure) {
                throw new IllegalStateException("a buggy caller");
            }
        };
        UblkDevice waiting = t.device(UblkRecovery.REISSUE, 1, 2, 4 * KIB, TIMEOUT);
        waiting.flush(buggy);
        Thread.sleep(300);
        Io io = new Io();
        waiting.flush(io);
        assertExpiredAfterAboutASecond(io);

        UblkDevice live = t.device(UblkRecovery.QUEUE, 1, 2, 4 * KIB, Duration.ofSeconds(30));
        FakeDriver driver = t.fake(live).serve(new MemoryDevice(8L * MIB, 512)).startDev();
        live.flush(buggy);
        Io after = new Io();
        live.flush(after);
        after.awaitSuccess();
        assertThat(driver.connectionOpen()).isTrue();
        assertThat(live.stateName()).isEqualTo("LIVE");
        assertThat(live.liveCount()).isEqualTo(1);
    }
}
