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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rtarget.backend.Errno;
import org.rtarget.backend.IoFailure;
import org.rtarget.backend.memory.MemoryDevice;
import org.rtarget.backend.ublk.FakeDriver.IoCmd;
import org.rtarget.backend.ublk.UblkTestSupport.Io;

/** The per-request watchdog with driver.request-timeout 1 s. */
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

    static void assertTimedOutAfterAboutASecond(Io io) {
        IoFailure f = io.awaitFailure();
        assertThat(f.errno()).as("errno of %s", f).isEqualTo(Errno.ETIMEDOUT);
        assertThat(f.kind()).isEqualTo(IoFailure.Kind.TIMEOUT);
        assertThat(io.took()).as("time to the timeout").isBetween(TIMEOUT, Duration.ofMillis(1600));
    }

    @Test
    void requestsWaitingForADriverTimeOut() throws Exception {
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
            assertTimedOutAfterAboutASecond(io);
        }
        assertThat(crashed.stateName()).isEqualTo("QUIESCED");
    }

    @Test
    void requestsADriverHoldsTimeOutAndTheirLateCommitIsIgnored() throws Exception {
        // One tag: whatever the driver holds, nothing else can be dispatched.
        UblkDevice device = t.device(UblkRecovery.QUEUE, 1, 1, 64 * KIB, TIMEOUT);
        FakeDriver driver = t.fake(device).startReader().startDev();

        ByteBuffer dst = ByteBuffer.allocate(4 * KIB);
        Io read = UblkTestSupport.read(device, 8 * KIB, dst);
        IoCmd held = driver.nextIo();
        assertThat(held.op()).isEqualTo(UblkProtocol.OP_READ);
        Io waiting = write(device, MIB, pattern(4 * KIB, 3)); // no tag for it
        assertTimedOutAfterAboutASecond(read);
        assertTimedOutAfterAboutASecond(waiting);
        assertThat(driver.heldCount()).as("the timed-out write was never dispatched").isZero();

        // The driver answers at last: the result is dropped, the caller's buffer left alone.
        byte[] late = pattern(4 * KIB, 4);
        driver.slot(held).put(late);
        driver.commit(held, 4 * KIB);
        Thread.sleep(200);
        assertThat(driver.connectionOpen()).as("a late commit is no protocol error").isTrue();
        assertThat(read.calls()).isEqualTo(1);
        assertThat(dst.array()).containsOnly(0);
        assertThat(device.stateName()).isEqualTo("LIVE");

        // The tag is the driver's again: the next request gets it.
        MemoryDevice store = new MemoryDevice(8L * MIB, 512);
        byte[] data = pattern(4 * KIB, 5);
        Io next = write(device, 0, data);
        IoCmd again = driver.nextIo();
        assertThat(again.tag()).isEqualTo(held.tag());
        assertThat(again.offset()).isZero();
        driver.serve(store);
        driver.execute(again);
        next.awaitSuccess();
        ByteBuffer back = ByteBuffer.allocate(4 * KIB);
        UblkTestSupport.read(device, 0, back).awaitSuccess();
        assertThat(back.array()).isEqualTo(data);
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
        assertTimedOutAfterAboutASecond(io);

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
