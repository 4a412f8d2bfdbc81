package org.rtarget.backend.ublk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.rtarget.backend.ublk.UblkTestSupport.KIB;
import static org.rtarget.backend.ublk.UblkTestSupport.MIB;
import static org.rtarget.backend.ublk.UblkTestSupport.pattern;
import static org.rtarget.backend.ublk.UblkTestSupport.readBack;
import static org.rtarget.backend.ublk.UblkTestSupport.waitForState;
import static org.rtarget.backend.ublk.UblkTestSupport.waitUntil;
import static org.rtarget.backend.ublk.UblkTestSupport.write;

import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rtarget.backend.Errno;
import org.rtarget.backend.memory.MemoryDevice;
import org.rtarget.backend.ublk.UblkTestSupport.Io;
import org.rtarget.backend.ublk.UblkTestSupport.ReferenceDriver;

/** Who may start, recover and end recovery, and when (docs/ublk-protocol.md, "Life of a device"). */
class UblkRecoveryRulesTest {

    private static final Duration LONG = Duration.ofSeconds(30);

    @TempDir
    Path dir;
    private UblkTestSupport t;
    private final MemoryDevice store = new MemoryDevice(8L * MIB, 512);

    @BeforeEach
    void setUp() {
        t = new UblkTestSupport(dir);
    }

    @AfterEach
    void tearDown() throws Exception {
        t.close();
    }

    @Test
    void startUserRecoveryIsBusyWhileTheOldDriverIsConnectedAndEndNeedsEveryTag() throws Exception {
        UblkDevice device = t.device(UblkRecovery.QUEUE, 2, 2, 64 * KIB, LONG);
        FakeDriver old = t.fake(device).serve(store).startDev();

        FakeDriver fresh = t.fake(device).startReader();
        assertThat(fresh.state).isEqualTo(UblkProtocol.S_LIVE);
        assertThat(fresh.control(UblkProtocol.START_USER_RECOVERY)).isEqualTo(-Errno.EBUSY);
        assertThat(fresh.control(UblkProtocol.START_USER_RECOVERY)).isEqualTo(-Errno.EBUSY);
        assertThat(fresh.control(UblkProtocol.END_USER_RECOVERY)).as("END before START").isEqualTo(-Errno.EINVAL);
        // The old driver still serves; the refused one did not disturb it.
        byte[] data = pattern(8 * KIB, 1);
        write(device, 0, data).awaitSuccess();
        assertThat(device.stateName()).isEqualTo("LIVE");

        old.kill();
        waitForState(device, "QUIESCED");
        assertThat(fresh.control(UblkProtocol.START_USER_RECOVERY)).isZero();
        assertThat(fresh.control(UblkProtocol.END_USER_RECOVERY)).as("END with no tag fetched").isEqualTo(-Errno.EAGAIN);
        fresh.fetchAllBut(2);
        assertThat(fresh.control(UblkProtocol.END_USER_RECOVERY)).as("END with a tag missing").isEqualTo(-Errno.EAGAIN);
        assertThat(device.stateName()).isEqualTo("QUIESCED");
        fresh.fetch(1, 0);
        fresh.serve(store);
        assertThat(fresh.control(UblkProtocol.END_USER_RECOVERY)).isZero();
        assertThat(device.stateName()).isEqualTo("LIVE");
        assertThat(readBack(device, 0, data.length)).isEqualTo(data);
    }

    @Test
    void startUserRecoveryOnADeviceNeverStartedIsInvalid() throws Exception {
        UblkDevice device = t.device(UblkRecovery.REISSUE, 1, 2, 4 * KIB, LONG);
        FakeDriver f = t.fake(device).startReader();
        assertThat(f.control(UblkProtocol.START_USER_RECOVERY)).isEqualTo(-Errno.EINVAL);
        assertThat(f.control(UblkProtocol.END_USER_RECOVERY)).isEqualTo(-Errno.EINVAL);
        f.serve(store).startDev();
        assertThat(device.stateName()).isEqualTo("LIVE");
    }

    @Test
    void aSecondDriverCannotStartALiveDevice() throws Exception {
        UblkDevice device = t.device(UblkRecovery.QUEUE, 1, 2, 4 * KIB, LONG);
        FakeDriver first = t.fake(device).serve(store).startDev();
        FakeDriver second = t.fake(device).startReader();
        assertThat(second.control(UblkProtocol.START_DEV)).isEqualTo(-Errno.EEXIST);
        assertThat(first.control(UblkProtocol.START_DEV)).as("nor the first one a second time").isEqualTo(-Errno.EEXIST);
        assertThat(device.stateName()).isEqualTo("LIVE");
        assertThat(device.liveCount()).isEqualTo(1);
        byte[] data = pattern(4 * KIB, 2);
        write(device, 4096, data).awaitSuccess();
        assertThat(readBack(device, 4096, data.length)).isEqualTo(data);
        assertThat(second.receivedCount()).isZero();

        // A driver that did not start the device cannot fetch on it: the connection is closed.
        second.fetch(0, 0);
        assertThat(second.awaitClosedByTarget(Duration.ofSeconds(5))).isTrue();
        assertThat(device.stateName()).isEqualTo("LIVE");
        write(device, 0, data).awaitSuccess();
    }

    @Test
    void startDevBeforeAnyFetchIsTooEarly() throws Exception {
        UblkDevice device = t.device(UblkRecovery.NONE, 1, 2, 4 * KIB, LONG);
        FakeDriver f = t.fake(device).serve(store);
        assertThat(f.control(UblkProtocol.START_DEV)).isEqualTo(-Errno.EAGAIN);
        f.fetch(0, 0);
        assertThat(f.control(UblkProtocol.START_DEV)).isEqualTo(-Errno.EAGAIN);
        f.fetch(0, 1);
        assertThat(f.control(UblkProtocol.START_DEV)).isZero();
        write(device, 0, pattern(512, 6)).awaitSuccess();
    }

    @Test
    void aSecondDriverCannotClaimADeviceAnotherIsStarting() throws Exception {
        UblkDevice device = t.device(UblkRecovery.QUEUE, 1, 2, 4 * KIB, LONG);
        FakeDriver first = t.fake(device).serve(store);
        first.fetch(0, 0);
        // A reply on the same connection: the target has handled the FETCH_REQ before it.
        assertThat(first.control(UblkProtocol.END_USER_RECOVERY)).isEqualTo(-Errno.EINVAL);
        FakeDriver second = t.fake(device).startReader();
        assertThat(second.control(UblkProtocol.START_DEV)).isEqualTo(-Errno.EEXIST);
        first.fetch(0, 1);
        assertThat(first.control(UblkProtocol.START_DEV)).isZero();
        write(device, 0, pattern(512, 3)).awaitSuccess();
    }

    /**
     * A driver started right after a crash can find the old connection still open (LIVE in
     * DEVICE_INFO): like ublksrv, the reference driver retries START_USER_RECOVERY while it gets
     * EBUSY and recovers on its own once the old connection is gone.
     */
    @Test
    void theReferenceDriverRetriesWhileTheOldConnectionLingers() throws Exception {
        UblkDevice device = t.device(UblkRecovery.REISSUE, 2, 4, 64 * KIB, LONG);
        FakeDriver old = t.fake(device).startReader().startDev();
        byte[] data = pattern(16 * KIB, 4);
        Io inHand = write(device, MIB, data);
        old.nextIo();

        ReferenceDriver driver = t.reference(device, store);
        Thread.sleep(350); // about three EBUSY answers
        assertThat(driver.exit).as("the driver waits; it printed:%n%s", driver.output()).isNotDone();
        assertThat(device.stateName()).isEqualTo("LIVE");
        assertThat(inHand.isDone()).isFalse();

        old.kill();
        waitUntil("recovered by the reference driver", () -> device.liveCount() == 2, Duration.ofSeconds(5));
        assertThat(device.stateName()).isEqualTo("LIVE");
        inHand.awaitSuccess();
        assertThat(readBack(device, MIB, data.length)).isEqualTo(data);
        assertThat(driver.exit).isNotDone();
        assertThat(driver.output()).contains("serving");
    }

    @Test
    void theReferenceDriverRecoversAFailIoDevice() throws Exception {
        UblkDevice device = t.device(UblkRecovery.FAIL_IO, 1, 4, 64 * KIB, LONG);
        FakeDriver old = t.fake(device).startReader().startDev();
        old.kill();
        waitForState(device, "FAIL_IO");
        t.reference(device, store);
        waitUntil("recovered by the reference driver", () -> device.liveCount() == 2);
        byte[] data = pattern(4 * KIB, 5);
        write(device, 0, data).awaitSuccess();
        assertThat(readBack(device, 0, data.length)).isEqualTo(data);
    }
}
