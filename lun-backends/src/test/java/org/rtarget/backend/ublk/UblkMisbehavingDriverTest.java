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

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.rtarget.backend.Errno;
import org.rtarget.backend.IoFailure;
import org.rtarget.backend.memory.MemoryDevice;
import org.rtarget.backend.ublk.FakeDriver.IoCmd;
import org.rtarget.backend.ublk.UblkTestSupport.Io;
import org.rtarget.backend.ublk.UblkTestSupport.Logs;

/**
 * Drivers that break the protocol: the device logs, closes that connection, takes it as a crash in
 * its recovery mode, and serves again once a good driver recovers it; other devices never notice.
 */
class UblkMisbehavingDriverTest {

    private static final Duration LONG = Duration.ofSeconds(30);
    private static final int TAGS = 4;

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

    /** What a bad driver does while it holds one write ({@code io}). */
    enum Misbehaviour {
        COMMITS_A_TAG_NEVER_GIVEN,
        COMMITS_THE_SAME_REQUEST_TWICE,
        FETCHES_A_FETCHED_TAG_AGAIN,
        FETCHES_THE_TAG_IT_HOLDS,
        SENDS_RANDOM_BYTES,
        SENDS_A_LENGTH_OF_2_POW_31,
        SENDS_AN_UNKNOWN_TYPE,
        SENDS_A_RESULT_LARGER_THAN_THE_REQUEST,
        NAMES_A_QUEUE_THAT_DOES_NOT_EXIST,
        SENDS_A_MESSAGE_WITH_MISSING_FIELDS;

        void perform(FakeDriver bad, IoCmd io) throws IOException {
            int otherTag = (io.tag() + 1) % TAGS;
            switch (this) {
                case COMMITS_A_TAG_NEVER_GIVEN -> bad.commit(io.qid(), otherTag, 0);
                case COMMITS_THE_SAME_REQUEST_TWICE -> {
                    bad.commit(io, io.length());
                    bad.commit(io, io.length());
                }
                case FETCHES_A_FETCHED_TAG_AGAIN -> bad.fetch(io.qid(), otherTag);
                case FETCHES_THE_TAG_IT_HOLDS -> bad.fetch(io.qid(), io.tag());
                case SENDS_RANDOM_BYTES -> {
                    byte[] garbage = new byte[64 * KIB];
                    new Random(42).nextBytes(garbage);
                    bad.sendRaw(garbage);
                }
                case SENDS_A_LENGTH_OF_2_POW_31 -> bad.sendRaw(new byte[] {0, 0, 0, (byte) 0x80, 0x21, 0, 0});
                case SENDS_AN_UNKNOWN_TYPE -> bad.sendRaw(new byte[] {1, 0, 0, 0, 0x7F});
                case SENDS_A_RESULT_LARGER_THAN_THE_REQUEST -> bad.commit(io, io.length() + 512);
                case NAMES_A_QUEUE_THAT_DOES_NOT_EXIST -> bad.fetch(7, 0);
                case SENDS_A_MESSAGE_WITH_MISSING_FIELDS -> bad.sendRaw(new byte[] {3, 0, 0, 0, 0x20, 0, 0});
            }
        }
    }

    static Stream<Arguments> misbehaviours() {
        UblkRecovery[] modes = {UblkRecovery.REISSUE, UblkRecovery.QUEUE, UblkRecovery.FAIL_IO};
        List<Arguments> list = new ArrayList<>();
        for (Misbehaviour m : Misbehaviour.values()) {
            list.add(Arguments.of(m, modes[m.ordinal() % modes.length]));
        }
        return list.stream();
    }

    @ParameterizedTest(name = "{0} ({1})")
    @MethodSource("misbehaviours")
    void theConnectionIsClosedAndHandledAsACrash(Misbehaviour misbehaviour, UblkRecovery mode) throws Exception {
        // Another device with a good driver: it must not notice anything.
        UblkDevice other = t.device(UblkRecovery.QUEUE, 1, 2, 64 * KIB, LONG);
        MemoryDevice otherStore = new MemoryDevice(8L * MIB, 512);
        t.reference(other, otherStore);
        waitForState(other, "LIVE");

        UblkDevice device = t.device(mode, 1, TAGS, 64 * KIB, LONG);
        MemoryDevice store = new MemoryDevice(8L * MIB, 512);
        try (Logs logs = new Logs()) {
            FakeDriver bad = t.fake(device).startReader().startDev();
            byte[] data = pattern(8 * KIB, 1);
            Io held = write(device, 64 * KIB, data);
            IoCmd io = bad.nextIo();

            misbehaviour.perform(bad, io);

            assertThat(bad.awaitClosedByTarget(Duration.ofSeconds(5))).as("the target closed the connection").isTrue();
            waitForState(device, mode == UblkRecovery.FAIL_IO ? "FAIL_IO" : "QUIESCED");
            waitUntil("a warning", () -> logs.messages().stream()
                    .anyMatch(m -> m.startsWith("WARN") && m.contains("protocol error")));
            assertThat(logs.messages()).anyMatch(m -> m.contains("the driver is gone"));

            // The other device goes on.
            byte[] otherData = pattern(4 * KIB, 2);
            write(other, 0, otherData).awaitSuccess();
            assertThat(readBack(other, 0, otherData.length)).isEqualTo(otherData);
            assertThat(other.stateName()).isEqualTo("LIVE");

            boolean committedFirst = misbehaviour == Misbehaviour.COMMITS_THE_SAME_REQUEST_TWICE;
            if (committedFirst) {
                held.awaitSuccess(); // the first commit was a good one
            } else if (mode != UblkRecovery.REISSUE) {
                IoFailure f = held.awaitFailure();
                assertThat(f.kind()).isNotEqualTo(IoFailure.Kind.UNAVAILABLE);
                assertThat(f.errno()).isZero();
            } else {
                Thread.sleep(50);
                assertThat(held.isDone()).as("re-issued, waiting for a new driver").isFalse();
            }

            // A good driver recovers the device.
            t.reference(device, store);
            waitUntil("recovered", () -> device.liveCount() == 2);
            if (mode == UblkRecovery.REISSUE && !committedFirst) {
                held.awaitSuccess();
                assertThat(readStore(store, 64 * KIB, data.length)).isEqualTo(data);
            }
            byte[] after = pattern(12 * KIB, 3);
            write(device, 2 * MIB, after).awaitSuccess();
            assertThat(readBack(device, 2 * MIB, after.length)).isEqualTo(after);
            assertThat(held.calls()).isEqualTo(1);
        }
    }

    @Test
    void aDriverThatConnectsButNeverFetchesLetsRequestsTimeOut() throws Exception {
        UblkDevice device = t.device(UblkRecovery.QUEUE, 1, 2, 4 * KIB, Duration.ofSeconds(1));
        FakeDriver idle = t.fake(device);
        Io waiting = write(device, 0, pattern(4 * KIB, 4));
        // never dispatched: nothing was done, so it may be sent again (BUSY), not an error
        assertThat(waiting.awaitFailure().kind()).isEqualTo(IoFailure.Kind.RETRY);
        assertThat(waiting.took()).isLessThan(Duration.ofMillis(1600));
        assertThat(device.stateName()).isEqualTo("DEAD");

        // It did not claim the device: a good driver starts it while the idle one is still connected.
        MemoryDevice store = new MemoryDevice(8L * MIB, 512);
        t.reference(device, store);
        waitForState(device, "LIVE");
        byte[] data = pattern(4 * KIB, 5);
        write(device, 0, data).awaitSuccess();
        assertThat(readStore(store, 0, data.length)).isEqualTo(data);

        // Closing the device closes every connection, the idle one too, and does not hang.
        idle.startReader();
        long start = System.nanoTime();
        device.close();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(2));
        assertThat(idle.awaitClosedByTarget(Duration.ofSeconds(5))).isTrue();
    }

    @Test
    void aSlowDriverSlowsOnlyItsOwnRequests() throws Exception {
        UblkDevice other = t.device(UblkRecovery.QUEUE, 1, 2, 64 * KIB, LONG);
        t.reference(other, new MemoryDevice(8L * MIB, 512));
        waitForState(other, "LIVE");

        UblkDevice device = t.device(UblkRecovery.QUEUE, 1, TAGS, 64 * KIB, LONG);
        MemoryDevice store = new MemoryDevice(8L * MIB, 512);
        FakeDriver slow = t.fake(device).serve(store, 2000).startDev();
        byte[] first = pattern(4 * KIB, 6);
        Io one = write(device, 0, first);
        waitUntil("the driver has the request", () -> slow.receivedCount() == 1);

        // While the driver sleeps (and reads nothing): submitting from another thread does not block,
        // and nothing else waits for it.
        byte[] second = pattern(4 * KIB, 7);
        CompletableFuture<Io> two = CompletableFuture.supplyAsync(() -> write(device, 64 * KIB, second));
        assertThat(two.get(200, TimeUnit.MILLISECONDS)).isNotNull();
        long start = System.nanoTime();
        assertThat(device.stateName()).isEqualTo("LIVE");
        byte[] otherData = pattern(4 * KIB, 8);
        write(other, 0, otherData).awaitSuccess();
        assertThat(readBack(other, 0, otherData.length)).isEqualTo(otherData);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofMillis(500));
        assertThat(one.isDone()).isFalse();

        one.awaitSuccess();
        assertThat(one.took()).isGreaterThanOrEqualTo(Duration.ofMillis(1900));
        two.get().awaitSuccess();
        assertThat(readStore(store, 0, first.length)).isEqualTo(first);
        assertThat(readStore(store, 64 * KIB, second.length)).isEqualTo(second);
        assertThat(slow.connectionOpen()).isTrue();
    }

    /** The device writes to a driver on a thread of its own: a driver that never reads blocks only that one. */
    @Test
    void aDriverThatNeverReadsDoesNotBlockSubmitters() throws Exception {
        int tags = 4096;
        UblkDevice device = t.device(UblkRecovery.QUEUE, 1, tags, 4 * KIB, LONG);
        FakeDriver deaf = t.fake(device);
        deaf.startDev(); // read on this thread; nothing reads after the reply

        CompletableFuture<List<Io>> submitted = CompletableFuture.supplyAsync(() -> {
            List<Io> ios = new ArrayList<>();
            for (int i = 0; i < tags + 100; i++) {
                Io io = new Io();
                device.flush(io);
                ios.add(io);
            }
            return ios;
        });
        List<Io> ios = submitted.get(3, TimeUnit.SECONDS);
        waitUntil("the socket is full and messages wait on the device's writer", () -> device.queuedToDriver() > 0);
        Thread.sleep(100);
        assertThat(device.queuedToDriver()).as("still not written").isPositive();
        assertThat(ios).noneMatch(Io::isDone);
        assertThat(device.stateName()).isEqualTo("LIVE");

        // When it reads at last, every request is served.
        deaf.serve(new MemoryDevice(8L * MIB, 512));
        ios.forEach(Io::awaitSuccess);
        assertThat(deaf.receivedCount()).isEqualTo(tags + 100);
    }

    /** A short read would leave stale bytes of the slot in the caller's buffer: it is an I/O error. */
    @Test
    void aShortResultForAReadOrWriteIsAnIoError() throws Exception {
        UblkDevice device = t.device(UblkRecovery.QUEUE, 1, TAGS, 64 * KIB, LONG);
        FakeDriver driver = t.fake(device).startReader().startDev();
        ByteBuffer dst = ByteBuffer.allocate(8 * KIB);
        Io read = UblkTestSupport.read(device, 0, dst);
        IoCmd io = driver.nextIo();
        driver.slot(io).put(pattern(8 * KIB, 9));
        driver.commit(io, 4 * KIB);
        assertThat(read.awaitFailure().errno()).isEqualTo(Errno.EIO);
        assertThat(dst.array()).containsOnly(0);

        Io write = write(device, 0, pattern(8 * KIB, 10));
        driver.commit(driver.nextIo(), 512);
        assertThat(write.awaitFailure().errno()).isEqualTo(Errno.EIO);

        Io failed = write(device, 0, pattern(8 * KIB, 10));
        driver.commit(driver.nextIo(), -Errno.ENOSPC);
        IoFailure f = failed.awaitFailure();
        assertThat(f.errno()).isEqualTo(Errno.ENOSPC);
        assertThat(f.kind()).isEqualTo(IoFailure.Kind.NO_SPACE);
        assertThat(driver.connectionOpen()).isTrue();
        assertThat(device.stateName()).isEqualTo("LIVE");
    }

    /** When one piece of a split request fails, its other pieces are not sent to the driver afterwards. */
    @Test
    void piecesOfAFailedRequestAreNotIssuedAfterItFailed() throws Exception {
        // One tag: the pieces of a 3-piece write go one after the other.
        UblkDevice device = t.device(UblkRecovery.QUEUE, 1, 1, 4 * KIB, LONG);
        FakeDriver driver = t.fake(device).startReader().startDev();
        byte[] data = pattern(12 * KIB, 11);
        ByteBuffer src = ByteBuffer.wrap(data);
        Io write = new Io();
        device.write(0, src, write);
        IoCmd first = driver.nextIo();
        assertThat(first.length()).isEqualTo(4 * KIB);
        driver.commit(first, -Errno.EIO);
        assertThat(write.awaitFailure().errno()).isEqualTo(Errno.EIO);
        // The caller owns its buffer again and reuses it.
        java.util.Arrays.fill(data, (byte) 0x5A);
        Thread.sleep(100);
        assertThat(driver.heldCount()).as("IO_CMDs after the request failed").isZero();

        Io flush = new Io();
        device.flush(flush);
        IoCmd next = driver.nextIo();
        assertThat(next.op()).isEqualTo(UblkProtocol.OP_FLUSH);
        driver.commit(next, 0);
        flush.awaitSuccess();
    }
}
