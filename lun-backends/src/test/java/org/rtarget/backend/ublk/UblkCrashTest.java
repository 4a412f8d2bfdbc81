package org.rtarget.backend.ublk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.rtarget.backend.ublk.UblkTestSupport.KIB;
import static org.rtarget.backend.ublk.UblkTestSupport.MIB;
import static org.rtarget.backend.ublk.UblkTestSupport.pattern;
import static org.rtarget.backend.ublk.UblkTestSupport.readBack;
import static org.rtarget.backend.ublk.UblkTestSupport.readStore;
import static org.rtarget.backend.ublk.UblkTestSupport.waitForState;
import static org.rtarget.backend.ublk.UblkTestSupport.waitUntil;
import static org.rtarget.backend.ublk.UblkTestSupport.write;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rtarget.backend.Errno;
import org.rtarget.backend.IoFailure;
import org.rtarget.backend.memory.MemoryDevice;
import org.rtarget.backend.ublk.FakeDriver.IoCmd;
import org.rtarget.backend.ublk.UblkTestSupport.Events;
import org.rtarget.backend.ublk.UblkTestSupport.Io;

/**
 * A driver dies with requests in its hands (exactly the device's four tags, known one by one) and
 * two more queued behind them; what happens next is the recovery mode's business.
 */
class UblkCrashTest {

    private static final int TAGS = 4;
    private static final int SIZE = 4 * KIB;

    @TempDir
    Path dir;
    private UblkTestSupport t;
    private final MemoryDevice store = new MemoryDevice(8L * MIB, 512);

    private UblkDevice device;
    private final Events events = new Events();
    private final AtomicInteger deaths = new AtomicInteger();
    /** Writes whose IO_CMD the crashed driver had received and not committed. */
    private final List<Io> held = new ArrayList<>();
    /** Writes that waited for a tag when the driver died. */
    private final List<Io> queued = new ArrayList<>();

    @BeforeEach
    void setUp() {
        t = new UblkTestSupport(dir);
    }

    @AfterEach
    void tearDown() throws Exception {
        t.close();
    }

    private static long heldOffset(int i) {
        return (long) i * 64 * KIB;
    }

    private static long queuedOffset(int i) {
        return MIB + (long) i * 64 * KIB;
    }

    /** Starts the device with a driver that takes four writes, never commits them, and dies. */
    private void crashWithRequestsInHand(UblkRecovery mode) throws Exception {
        device = t.device(mode, 1, TAGS, 64 * KIB, Duration.ofSeconds(30));
        device.attach(events);
        device.onDead(deaths::incrementAndGet);
        FakeDriver old = t.fake(device).startReader().startDev();
        waitUntil("storageRecovered", () -> events.seen().contains("recovered"));

        for (int i = 0; i < TAGS; i++) {
            held.add(write(device, heldOffset(i), pattern(SIZE, i)));
        }
        List<IoCmd> inHand = old.nextIos(TAGS);
        assertThat(inHand).extracting(IoCmd::offset)
                .containsExactlyInAnyOrder(heldOffset(0), heldOffset(1), heldOffset(2), heldOffset(3));
        assertThat(inHand).extracting(IoCmd::tag).containsExactlyInAnyOrder(0, 1, 2, 3);
        for (IoCmd io : inHand) {
            assertThat(io.op()).isEqualTo(UblkProtocol.OP_WRITE);
            assertThat(io.length()).isEqualTo(SIZE);
            byte[] inSlot = new byte[SIZE];
            old.slot(io).get(inSlot);
            assertThat(inSlot).as("the target put the data in the slot").isEqualTo(pattern(SIZE, (int) (io.offset() / (64 * KIB))));
        }
        for (int i = 0; i < 2; i++) {
            queued.add(write(device, queuedOffset(i), pattern(SIZE, 100 + i)));
        }
        Thread.sleep(100);
        assertThat(old.heldCount()).as("no tag is left for the queued requests").isZero();
        assertThat(held).noneMatch(Io::isDone);
        assertThat(queued).noneMatch(Io::isDone);

        old.kill();
    }

    private static void assertFailedInTheDriversHands(IoFailure f) {
        assertThat(f.kind()).as("not 'unavailable': the standby gate must not answer BUSY").isNotEqualTo(IoFailure.Kind.UNAVAILABLE);
        assertThat(f.errno()).as("errno (one the gate could map to BUSY would be wrong)").isZero();
    }

    private FakeDriver recoverWithNewDriver(String stateWhileRecovering) throws Exception {
        FakeDriver fresh = t.fake(device).serve(store);
        assertThat(UblkProtocol.stateName(fresh.state)).isEqualTo(stateWhileRecovering);
        assertThat(fresh.control(UblkProtocol.START_USER_RECOVERY)).isZero();
        assertThat(device.stateName()).isEqualTo(stateWhileRecovering);
        fresh.fetchAll();
        assertThat(fresh.control(UblkProtocol.END_USER_RECOVERY)).isZero();
        assertThat(device.stateName()).isEqualTo("LIVE");
        return fresh;
    }

    @Test
    void reissueGivesTheRequestsInTheDriversHandsToTheNextDriver() throws Exception {
        crashWithRequestsInHand(UblkRecovery.REISSUE);
        waitForState(device, "QUIESCED");
        waitUntil("storageLost", () -> events.seen().size() == 3);
        assertThat(events.seen()).containsExactly("lost", "recovered", "lost");
        assertThat(events.causes().get(1).kind()).isEqualTo(IoFailure.Kind.UNAVAILABLE);
        Io meanwhile = write(device, 2 * MIB, pattern(SIZE, 200));
        Thread.sleep(100);
        assertThat(held).noneMatch(Io::isDone);
        assertThat(queued).noneMatch(Io::isDone);
        assertThat(meanwhile.isDone()).isFalse();

        FakeDriver fresh = recoverWithNewDriver("QUIESCED");
        held.forEach(Io::awaitSuccess);
        queued.forEach(Io::awaitSuccess);
        meanwhile.awaitSuccess();
        for (int i = 0; i < TAGS; i++) {
            assertThat(readStore(store, heldOffset(i), SIZE)).as("re-issued write %d", i).isEqualTo(pattern(SIZE, i));
        }
        for (int i = 0; i < 2; i++) {
            assertThat(readStore(store, queuedOffset(i), SIZE)).isEqualTo(pattern(SIZE, 100 + i));
        }
        assertThat(readStore(store, 2 * MIB, SIZE)).isEqualTo(pattern(SIZE, 200));
        assertThat(fresh.receivedCount()).isEqualTo(TAGS + 2 + 1);
        waitUntil("storageRecovered", () -> events.seen().size() == 4);
        assertThat(events.seen()).containsExactly("lost", "recovered", "lost", "recovered");
        assertThat(device.liveCount()).isEqualTo(2);
        assertThat(deaths).hasValue(0);
    }

    @Test
    void queueFailsExactlyTheRequestsInTheDriversHandsAndKeepsTheQueuedOnes() throws Exception {
        crashWithRequestsInHand(UblkRecovery.QUEUE);
        waitForState(device, "QUIESCED");
        for (Io io : held) {
            assertFailedInTheDriversHands(io.awaitFailure());
        }
        waitUntil("storageLost", () -> events.seen().size() == 3);
        assertThat(events.seen()).containsExactly("lost", "recovered", "lost");
        Io meanwhile = write(device, 2 * MIB, pattern(SIZE, 200));
        Thread.sleep(100);
        assertThat(queued).noneMatch(Io::isDone);
        assertThat(meanwhile.isDone()).isFalse();

        FakeDriver fresh = recoverWithNewDriver("QUIESCED");
        queued.forEach(Io::awaitSuccess);
        meanwhile.awaitSuccess();
        for (int i = 0; i < 2; i++) {
            assertThat(readStore(store, queuedOffset(i), SIZE)).isEqualTo(pattern(SIZE, 100 + i));
        }
        for (int i = 0; i < TAGS; i++) {
            assertThat(readStore(store, heldOffset(i), SIZE)).as("failed write %d is not re-issued", i).containsOnly(0);
        }
        assertThat(fresh.receivedCount()).isEqualTo(3);
        waitUntil("storageRecovered", () -> events.seen().size() == 4);
        assertThat(events.seen()).containsExactly("lost", "recovered", "lost", "recovered");
        assertThat(held).allMatch(io -> io.calls() == 1);
    }

    @Test
    void failIoFailsEverythingUntilRecoveryAndOnlyTheQueuedAsUnavailable() throws Exception {
        crashWithRequestsInHand(UblkRecovery.FAIL_IO);
        for (Io io : held) {
            assertFailedInTheDriversHands(io.awaitFailure());
        }
        for (Io io : queued) {
            assertThat(io.awaitFailure().kind()).isEqualTo(IoFailure.Kind.UNAVAILABLE);
        }
        waitForState(device, "FAIL_IO");
        waitUntil("storageLost", () -> events.seen().size() == 3);
        assertThat(events.seen()).containsExactly("lost", "recovered", "lost");

        Io rejected = write(device, 2 * MIB, pattern(SIZE, 200));
        assertThat(rejected.isDone()).as("a new request fails at once").isTrue();
        assertThat(rejected.failure().kind()).isEqualTo(IoFailure.Kind.UNAVAILABLE);
        assertThat(rejected.failure().errno()).isZero();

        FakeDriver fresh = t.fake(device).serve(store);
        assertThat(fresh.state).isEqualTo(UblkProtocol.S_FAIL_IO);
        assertThat(fresh.control(UblkProtocol.START_USER_RECOVERY)).isZero();
        Io duringRecovery = new Io();
        device.flush(duringRecovery);
        assertThat(duringRecovery.awaitFailure().kind()).isEqualTo(IoFailure.Kind.UNAVAILABLE);
        fresh.fetchAll();
        assertThat(fresh.control(UblkProtocol.END_USER_RECOVERY)).isZero();
        assertThat(device.stateName()).isEqualTo("LIVE");

        byte[] data = pattern(SIZE, 300);
        write(device, 3 * MIB, data).awaitSuccess();
        assertThat(readBack(device, 3 * MIB, SIZE)).isEqualTo(data);
        assertThat(readStore(store, 2 * MIB, SIZE)).containsOnly(0);
        waitUntil("storageRecovered", () -> events.seen().size() == 4);
        assertThat(events.seen()).containsExactly("lost", "recovered", "lost", "recovered");
    }

    @Test
    void noneFailsEverythingAndTheDeviceIsDeadForGood() throws Exception {
        crashWithRequestsInHand(UblkRecovery.NONE);
        for (Io io : held) {
            assertThat(io.awaitFailure().kind()).isNotEqualTo(IoFailure.Kind.UNAVAILABLE);
        }
        for (Io io : queued) {
            assertThat(io.awaitFailure().errno()).isEqualTo(Errno.ENODEV);
        }
        waitForState(device, "DEAD");
        waitUntil("onDead", () -> deaths.get() > 0);

        Io later = write(device, 2 * MIB, pattern(SIZE, 200));
        assertThat(later.awaitFailure().errno()).isEqualTo(Errno.ENODEV);
        Io laterRead = UblkTestSupport.read(device, 0, ByteBuffer.allocate(512));
        assertThat(laterRead.awaitFailure().errno()).isEqualTo(Errno.ENODEV);

        // No driver brings it back.
        FakeDriver fresh = t.fake(device).startReader();
        assertThat(fresh.state).isEqualTo(UblkProtocol.S_DEAD);
        assertThat(fresh.control(UblkProtocol.START_USER_RECOVERY)).isEqualTo(-Errno.EINVAL);
        assertThat(fresh.control(UblkProtocol.START_DEV)).isEqualTo(-Errno.EEXIST);
        fresh.fetch(0, 0);
        assertThat(fresh.awaitClosedByTarget(Duration.ofSeconds(5))).isTrue();
        Thread.sleep(100);
        assertThat(device.stateName()).isEqualTo("DEAD");
        assertThat(deaths).as("onDead runs once").hasValue(1);
        assertThat(events.seen()).as("no standby for a device that cannot recover").containsExactly("recovered");
        assertThat(held).allMatch(io -> io.calls() == 1);
        assertThat(queued).allMatch(io -> io.calls() == 1);
    }
}
