package org.rtarget.server.scsi;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.rtarget.backend.Errno;
import org.rtarget.backend.IoFailure;
import org.rtarget.backend.memory.MemoryDevice;
import org.rtarget.config.StandbyConfig;
import org.rtarget.gate.GatePolicy;
import org.rtarget.gate.StandbyGate;
import org.rtarget.gate.StandbyKey;
import org.rtarget.gate.StandbyStateFile;

/**
 * The standby gate as an initiator meets it, through {@link ScsiCore}: a real {@link StandbyGate}
 * (global key on, as at server start) in front of a {@link MemoryDevice} whose failures the test
 * injects. The LUN is wired the way TargetServer.buildUnit does it.
 */
class StandbyScsiTest {
    private static final int BLOCK = 512;
    private static final long SIZE = 1 << 20;
    private static final String LUN = "disk0";
    private static final int LBA = 3;

    @TempDir
    Path stateDir;

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final StandbyKey key = new StandbyKey(true);
    private MemoryDevice device;
    private StandbyGate gate;
    private LogicalUnit lu;
    private ItlNexus nexus;

    /** A memory LUN as the server builds it: the gate is enabled only on a standby-capable backend. */
    private void memoryLun(Duration busyMax, GatePolicy.Fallback fallback) {
        device = new MemoryDevice(SIZE, BLOCK);
        gate = new StandbyGate(LUN, key, GatePolicy.of(StandbyConfig.DEFAULT_ERRORS.stream().map(Errno::byName).toList(),
                busyMax, fallback), new StandbyStateFile(stateDir, LUN), registry);
        device.attach(gate);
        if (device.standbyCapable()) {
            gate.enable();
        }
        lu = new LogicalUnit(LunIdentity.of(LUN, device.kind()), device, gate, false, true);
        nexus = new ItlNexus(new ScsiTestBed.FakeInitiator("iqn.2026-01.test:host", 0x1), 0, lu);
        lu.attach(nexus);
        nexus.clearUnitAttentions();
    }

    /** The same LUN with its gate enabled by hand, as for a standby-capable backend. */
    private void standbyLun(Duration busyMax, GatePolicy.Fallback fallback) {
        memoryLun(busyMax, fallback);
        gate.enable();
    }

    private void standbyLun() {
        standbyLun(StandbyConfig.DEFAULT_BUSY_MAX, GatePolicy.Fallback.NOT_READY);
    }

    private String exportedState() throws IOException {
        return Files.readString(stateDir.resolve("block").resolve(LUN).resolve("queue").resolve("standby"),
                StandardCharsets.US_ASCII);
    }

    private long readsExecuted() {
        return lu.counters().readCommands.sum();
    }

    private double busyAnswers() {
        return registry.get("rtarget.standby.busy.answers").tag("lun", LUN).counter().count();
    }

    // ----- running commands -----

    /** What a command ended with, as the transport would send it. */
    record Answer(int status, byte[] sense, byte[] data, boolean dropConnection) {
        String senseCode() {
            return sense == null ? "" : String.format("%X/%02X/%02X", sense[2] & 0x0F, sense[12] & 0xFF, sense[13] & 0xFF);
        }

        int senseKey() {
            return sense == null ? -1 : sense[2] & 0x0F;
        }

        long u32(int i) {
            return ((data[i] & 0xFFL) << 24) | ((data[i + 1] & 0xFF) << 16) | ((data[i + 2] & 0xFF) << 8) | (data[i + 3] & 0xFF);
        }

        @Override
        public String toString() {
            return ScsiStatus.name(status) + (sense == null ? "" : " " + senseCode()) + (dropConnection ? " drop" : "");
        }
    }

    /** A command whose session has {@code outstanding} commands outstanding (this one included). */
    private static final class Command extends ScsiCommand {
        private final int outstanding;
        int doneCalls;

        Command(int outstanding) {
            this.outstanding = outstanding;
        }

        @Override
        protected ByteBufAllocator alloc() {
            return UnpooledByteBufAllocator.DEFAULT;
        }

        @Override
        protected int outstandingCommands() {
            return outstanding;
        }

        @Override
        protected void commandDone() {
            doneCalls++;
        }
    }

    private Command prepare(byte[] cdb, byte[] dataOut, int outstanding) {
        Command c = new Command(outstanding);
        c.cdb = Unpooled.wrappedBuffer(Arrays.copyOf(cdb, 16));
        c.itl = nexus;
        c.expectedLength = dataOut == null ? 0 : dataOut.length;
        return c;
    }

    /** The transport's part after setup accepted the command: data-out, then execute. */
    private static Answer executeAndCollect(Command c, byte[] dataOut) {
        if (c.direction() == ScsiCommand.Direction.OUT && c.transferLength() > 0) {
            c.setData(Unpooled.wrappedBuffer(dataOut));
        }
        ScsiCore.execute(c);
        assertThat(c.doneCalls).as("%s completed exactly once", c.opName()).isEqualTo(1);
        return collect(c);
    }

    private static Answer collect(Command c) {
        ByteBuf data = c.takeData();
        byte[] bytes = new byte[0];
        if (data != null) {
            bytes = ByteBufUtil.getBytes(data);
            data.release();
        }
        return new Answer(c.status(), c.sense(), bytes, c.dropConnection());
    }

    private Answer run(byte[] cdb, byte[] dataOut, int outstanding) {
        Command c = prepare(cdb, dataOut, outstanding);
        if (ScsiCore.setup(c)) {
            return executeAndCollect(c, dataOut);
        }
        assertThat(c.doneCalls).as("a command refused in setup is answered by the transport").isZero();
        return collect(c);
    }

    private Answer run(byte[] cdb) {
        return run(cdb, null, 1);
    }

    private Answer run(byte[] cdb, byte[] dataOut) {
        return run(cdb, dataOut, 1);
    }

    private static void assertStatus(Answer a, int status) {
        assertThat(a.status()).as("status of %s", a).isEqualTo(status);
    }

    private static void assertCheckCondition(Answer a, String senseCode) {
        assertStatus(a, ScsiStatus.CHECK_CONDITION);
        assertThat(a.senseCode()).isEqualTo(senseCode);
    }

    private static void assertBusy(Answer a) {
        assertStatus(a, ScsiStatus.BUSY);
        assertThat(a.sense()).isNull();
        assertThat(a.dropConnection()).isFalse();
    }

    // ----- CDBs -----

    private static byte[] read10(int lba, int blocks) {
        return ScsiTestBed.read10(lba, blocks);
    }

    private static byte[] write10(int lba, int blocks) {
        return ScsiTestBed.write10(lba, blocks);
    }

    private static byte[] readCapacity10() {
        return new byte[] {0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    }

    private static byte[] reportLuns() {
        return new byte[] {(byte) 0xA0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0};
    }

    private static byte[] modeSense6() {
        return new byte[] {0x1A, 0, 0x3F, 0, (byte) 255, 0};
    }

    private static byte[] block(int value) {
        return ScsiTestBed.block(value);
    }

    private static IoFailure failure(int errno) {
        return IoFailure.ofErrno(errno, "injected " + Errno.name(errno));
    }

    /** Writes a known pattern, so that reads can tell the medium was (not) changed. */
    private void writePattern(int value) {
        assertStatus(run(write10(LBA, 1), block(value)), ScsiStatus.GOOD);
    }

    private void assertMediumHolds(int value) {
        Answer a = run(read10(LBA, 1));
        assertStatus(a, ScsiStatus.GOOD);
        assertThat(a.data()).isEqualTo(block(value));
    }

    // ----- (a) a memory LUN: its gate is never enabled, failures are ordinary errors -----

    @Nested
    class MemoryLunWithoutStandby {

        @Test
        void theGateOfAMemoryLunIsNotEnabled() throws IOException {
            memoryLun(StandbyConfig.DEFAULT_BUSY_MAX, GatePolicy.Fallback.NOT_READY);
            assertThat(device.standbyCapable()).isFalse();
            assertThat(gate.enabled()).isFalse();
            assertThat(gate.state()).isEqualTo("not supported");
            assertThat(exportedState()).isEqualTo("not supported\n");
        }

        @Test
        void notConnectedOnReadIsHardwareError() throws IOException {
            memoryLun(StandbyConfig.DEFAULT_BUSY_MAX, GatePolicy.Fallback.NOT_READY);
            device.injectFailures(failure(Errno.ENOTCONN), 1);

            assertCheckCondition(run(read10(LBA, 1)), "4/08/00");

            assertThat(gate.inStandby()).isFalse();
            assertThat(gate.state()).isEqualTo("not supported");
            assertThat(exportedState()).isEqualTo("not supported\n");
            assertStatus(run(read10(LBA, 1)), ScsiStatus.GOOD); // no standby: the next read just works
            assertThat(lu.counters().errors.sum()).isEqualTo(1);
        }

        @Test
        void ioErrorIsMediumError() {
            memoryLun(StandbyConfig.DEFAULT_BUSY_MAX, GatePolicy.Fallback.NOT_READY);
            device.injectFailures(failure(Errno.EIO), 1);
            assertCheckCondition(run(read10(LBA, 1)), "3/11/00");

            device.injectFailures(failure(Errno.EIO), 1);
            assertCheckCondition(run(write10(LBA, 1), block(7)), "3/0C/00");

            assertThat(gate.state()).isEqualTo("not supported");
        }

        @Test
        void noSpaceOnWriteIsDataProtect() {
            memoryLun(StandbyConfig.DEFAULT_BUSY_MAX, GatePolicy.Fallback.NOT_READY);
            device.injectFailures(failure(Errno.ENOSPC), 1);
            assertCheckCondition(run(write10(LBA, 1), block(7)), "7/27/07");
            assertThat(gate.state()).isEqualTo("not supported");
        }
    }

    // ----- (b) the gate enabled: storage failures become BUSY -----

    @Nested
    class StandbyEnabled {

        @Test
        void theFailedReadIsBusyAndLaterReadsAreBusyWithoutReachingTheBackend() throws IOException {
            standbyLun();
            writePattern(0x5A);
            assertThat(exportedState()).isEqualTo("off\n");
            device.injectFailures(failure(Errno.ENOTCONN), 1); // exactly one: the device is fine afterwards

            assertBusy(run(read10(LBA, 1)));
            assertThat(gate.state()).isEqualTo("on");
            assertThat(exportedState()).isEqualTo("on\n");
            long executed = readsExecuted();

            // had these reached the device they would have succeeded: the one failure is used up
            for (int i = 0; i < 3; i++) {
                assertBusy(run(read10(LBA, 1)));
            }
            assertThat(readsExecuted()).isEqualTo(executed);
            assertThat(busyAnswers()).isEqualTo(4);

            gate.storageRecovered();

            assertThat(exportedState()).isEqualTo("off\n");
            assertMediumHolds(0x5A);
            assertThat(lu.counters().errors.sum()).isZero(); // BUSY is not an error
        }

        @ParameterizedTest(name = "errno {0}")
        @ValueSource(ints = {Errno.EBUSY, Errno.ENOTCONN, Errno.EIO})
        void everyDefaultStandbyErrnoGivesBusy(int errno) {
            standbyLun();
            device.injectFailures(failure(errno), 1);
            assertBusy(run(read10(LBA, 1)));
            assertBusy(run(read10(LBA, 1)));
            assertThat(gate.inStandby()).isTrue();
        }

        @Test
        void aCrashedDriverWithoutErrnoGivesBusy() {
            standbyLun();
            device.injectFailures(IoFailure.of(IoFailure.Kind.UNAVAILABLE, 0, "driver crashed"), 1);
            assertBusy(run(read10(LBA, 1)));
            assertThat(gate.inStandby()).isTrue();
        }

        @Test
        void noSpaceIsStillDataProtect() {
            standbyLun();
            device.injectFailures(failure(Errno.ENOSPC), 1);
            assertCheckCondition(run(write10(LBA, 1), block(7)), "7/27/07");
            assertThat(gate.state()).isEqualTo("off");
            assertStatus(run(write10(LBA, 1), block(7)), ScsiStatus.GOOD);
        }

        @Test
        void commandsThatDoNotTouchTheMediumKeepWorking() {
            standbyLun();
            device.injectFailures(failure(Errno.ENOTCONN), 1);
            assertBusy(run(read10(LBA, 1)));

            Answer inquiry = run(ScsiTestBed.inquiry());
            assertStatus(inquiry, ScsiStatus.GOOD);
            assertThat(inquiry.data()).isNotEmpty();
            assertThat(inquiry.data()[0] & 0x1F).isZero(); // a direct-access block device

            Answer capacity = run(readCapacity10());
            assertStatus(capacity, ScsiStatus.GOOD);
            assertThat(capacity.u32(0)).isEqualTo(SIZE / BLOCK - 1);
            assertThat(capacity.u32(4)).isEqualTo(BLOCK);

            assertStatus(run(reportLuns()), ScsiStatus.GOOD);
            assertStatus(run(modeSense6()), ScsiStatus.GOOD);
            assertStatus(run(ScsiTestBed.testUnitReady()), ScsiStatus.GOOD);

            assertThat(gate.inStandby()).isTrue();
            assertBusy(run(read10(LBA, 1)));
        }

        @Test
        void writesDuringStandbyAreBusyAndChangeNothing() {
            standbyLun();
            writePattern(0x11);
            device.injectFailures(failure(Errno.EBUSY), 1);
            assertBusy(run(read10(LBA, 1)));

            assertBusy(run(write10(LBA, 1), block(0x22)));
            assertBusy(run(new byte[] {0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0})); // SYNCHRONIZE CACHE(10)

            gate.storageRecovered();
            assertMediumHolds(0x11);
        }

        @Test
        void standbyBeginningWhileAWriteWaitsForItsDataIsCheckedAgain() {
            standbyLun();
            writePattern(0x11);
            Command write = prepare(write10(LBA, 1), block(0x33), 1);
            assertThat(ScsiCore.setup(write)).isTrue(); // admitted: the data-out is solicited

            device.injectFailures(failure(Errno.ENOTCONN), 1);
            assertBusy(run(read10(0, 1))); // meanwhile, another command finds the storage gone

            assertBusy(executeAndCollect(write, block(0x33)));
            gate.storageRecovered();
            assertMediumHolds(0x11);
        }

        @Test
        void storageLostWithoutAFailedCommandGivesBusy() {
            standbyLun();
            gate.storageLost(IoFailure.of(IoFailure.Kind.UNAVAILABLE, 0, "driver died"));
            assertBusy(run(read10(LBA, 1)));
            assertThat(readsExecuted()).isZero();
            assertStatus(run(ScsiTestBed.testUnitReady()), ScsiStatus.GOOD);
            gate.storageRecovered();
            assertStatus(run(read10(LBA, 1)), ScsiStatus.GOOD);
        }

        @Test
        void withTheGlobalKeyOffFailuresAreOrdinaryErrors() throws IOException {
            standbyLun();
            key.set(false);
            device.injectFailures(failure(Errno.ENOTCONN), 1);
            assertCheckCondition(run(read10(LBA, 1)), "4/08/00");
            assertThat(gate.inStandby()).isFalse();
            assertThat(exportedState()).isEqualTo("off\n");
        }
    }

    // ----- (c) BUSY or TASK SET FULL -----

    @Nested
    class TaskSetFull {

        @Test
        void taskSetFullWhenOtherCommandsAreOutstanding() {
            standbyLun();
            device.injectFailures(failure(Errno.ENOTCONN), 1);

            assertStatus(run(read10(LBA, 1), null, 2), ScsiStatus.TASK_SET_FULL); // the failed command
            assertStatus(run(read10(LBA, 1), null, 2), ScsiStatus.TASK_SET_FULL); // refused by the gate
            assertStatus(run(write10(LBA, 1), block(1), 5), ScsiStatus.TASK_SET_FULL);
            assertBusy(run(read10(LBA, 1), null, 1));
            assertBusy(run(read10(LBA, 1), null, 0));
        }
    }

    // ----- (d) after standby-busy-max: the fallback -----

    @Nested
    class AfterBusyMax {
        private static final Duration BUSY_MAX = Duration.ofMillis(200);

        private void enterStandbyAndOutlastBusyMax() throws InterruptedException {
            device.injectFailures(failure(Errno.ENOTCONN), 1);
            long start = System.nanoTime();
            Answer first = run(read10(LBA, 1));
            Answer check = run(ScsiTestBed.testUnitReady());
            if (System.nanoTime() - start < BUSY_MAX.toNanos()) { // a stalled machine proves nothing here
                assertBusy(first);
                assertStatus(check, ScsiStatus.GOOD);
            }
            long until = start + BUSY_MAX.toNanos() + 20_000_000L;
            for (long left; (left = until - System.nanoTime()) > 0; ) {
                Thread.sleep(Math.max(1, left / 1_000_000));
            }
        }

        @Test
        void notReadyManualInterventionOnALunWithoutAlua() throws InterruptedException {
            standbyLun(BUSY_MAX, GatePolicy.Fallback.NOT_READY);
            enterStandbyAndOutlastBusyMax();

            // 04h/0Bh would be "ALUA standby": multipath's tur checker calls that a ghost path and
            // keeps it; a LUN that reports no ALUA says 04h/03h, which fails the path.
            assertCheckCondition(run(read10(LBA, 1)), "2/04/03");
            assertCheckCondition(run(write10(LBA, 1), block(1)), "2/04/03");
            assertCheckCondition(run(ScsiTestBed.testUnitReady()), "2/04/03");
            assertStatus(run(ScsiTestBed.inquiry()), ScsiStatus.GOOD);
            assertStatus(run(readCapacity10()), ScsiStatus.GOOD);

            gate.storageRecovered();
            assertStatus(run(read10(LBA, 1)), ScsiStatus.GOOD);
            assertStatus(run(ScsiTestBed.testUnitReady()), ScsiStatus.GOOD);
        }

        @Test
        void hardwareError() throws InterruptedException {
            standbyLun(BUSY_MAX, GatePolicy.Fallback.HARDWARE_ERROR);
            enterStandbyAndOutlastBusyMax();

            Answer read = run(read10(LBA, 1));
            assertStatus(read, ScsiStatus.CHECK_CONDITION);
            assertThat(read.senseKey()).isEqualTo(SenseCode.HARDWARE_ERROR);
            Answer check = run(ScsiTestBed.testUnitReady());
            assertStatus(check, ScsiStatus.CHECK_CONDITION);
            assertThat(check.senseKey()).isEqualTo(SenseCode.HARDWARE_ERROR);
            assertThat(read.dropConnection()).isFalse();
        }

        @Test
        void dropTheConnection() throws InterruptedException {
            standbyLun(BUSY_MAX, GatePolicy.Fallback.DROP);
            enterStandbyAndOutlastBusyMax();

            assertThat(run(read10(LBA, 1)).dropConnection()).isTrue();
            assertThat(run(write10(LBA, 1), block(1)).dropConnection()).isTrue();
            assertThat(run(ScsiTestBed.testUnitReady()).dropConnection()).isTrue();
            Answer inquiry = run(ScsiTestBed.inquiry());
            assertStatus(inquiry, ScsiStatus.GOOD);
            assertThat(inquiry.dropConnection()).isFalse();

            gate.storageRecovered();
            Answer read = run(read10(LBA, 1));
            assertStatus(read, ScsiStatus.GOOD);
            assertThat(read.dropConnection()).isFalse();
        }

        @ParameterizedTest
        @EnumSource(GatePolicy.Fallback.class)
        void beforeBusyMaxEveryFallbackAnswersBusy(GatePolicy.Fallback fallback) {
            standbyLun(StandbyConfig.DEFAULT_BUSY_MAX, fallback);
            device.injectFailures(failure(Errno.ENOTCONN), 1);
            assertBusy(run(read10(LBA, 1)));
            assertBusy(run(read10(LBA, 1)));
            assertStatus(run(ScsiTestBed.testUnitReady()), ScsiStatus.GOOD);
        }
    }
}
