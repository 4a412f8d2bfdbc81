package org.rtarget.server.scsi;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.rtarget.backend.Errno;
import org.rtarget.backend.IoFailure;
import org.rtarget.config.StandbyConfig;
import org.rtarget.gate.GatePolicy;
import org.rtarget.gate.StandbyGate;
import org.rtarget.gate.StandbyKey;

/**
 * What an initiator is told about durability and late answers, through {@link ScsiCore}: a failed
 * flush is never BUSY and never forgotten, every initiator that wrote hears of it once; an answer
 * from storage that was replaced while the command ran is never GOOD; with the write cache off
 * every write path is durable before GOOD.
 */
class RecoveryIntegrityScsiTest {
    private static final int BLOCK = 512;
    private static final int LBA = 8;
    private static final String WRITE_ERROR = "3/0C/00";

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private ControllableDevice device;
    private StandbyGate gate;
    private LogicalUnit lu;

    private void unit(boolean writeCache, boolean unmapReadsZeros) {
        device = new ControllableDevice(1 << 20, BLOCK, unmapReadsZeros);
        gate = new StandbyGate("disk", new StandbyKey(true), GatePolicy.of(
                StandbyConfig.DEFAULT_ERRORS.stream().map(Errno::byName).toList(), Duration.ofSeconds(60),
                GatePolicy.Fallback.NOT_READY), null, registry);
        gate.enable();
        lu = new LogicalUnit(LunIdentity.of("disk", device.kind()), device, gate, false, writeCache);
    }

    private ItlNexus login(String initiator) {
        ItlNexus n = new ItlNexus(new ScsiTestBed.FakeInitiator(initiator, 0x1), 0, lu);
        lu.attach(n);
        n.clearUnitAttentions();
        return n;
    }

    // ----- running commands -----

    /** A command started through the core; it may still be at the device. */
    private static ScsiTestBed.FakeCommand start(ItlNexus nexus, byte[] cdb, byte[] dataOut) {
        ScsiTestBed.FakeCommand c = new ScsiTestBed.FakeCommand();
        c.cdb = Unpooled.wrappedBuffer(Arrays.copyOf(cdb, 16));
        c.itl = nexus;
        c.expectedLength = dataOut == null ? 0 : dataOut.length;
        if (ScsiCore.setup(c)) {
            if (c.direction() == ScsiCommand.Direction.OUT && c.transferLength() > 0) {
                c.setData(Unpooled.wrappedBuffer(dataOut));
            }
            ScsiCore.execute(c);
        } else {
            c.done = true;
        }
        return c;
    }

    private static ScsiTestBed.Result result(ScsiTestBed.FakeCommand c) {
        assertThat(c.done).as("%s answered", c.opName()).isTrue();
        ByteBuf data = c.takeData();
        byte[] bytes = new byte[0];
        if (data != null) {
            bytes = ByteBufUtil.getBytes(data);
            data.release();
        }
        return new ScsiTestBed.Result(c.status(), c.sense(), bytes);
    }

    private static ScsiTestBed.Result run(ItlNexus nexus, byte[] cdb, byte[] dataOut) {
        return result(start(nexus, cdb, dataOut));
    }

    private static ScsiTestBed.Result run(ItlNexus nexus, byte[] cdb) {
        return run(nexus, cdb, null);
    }

    private static String answer(ScsiTestBed.Result r) {
        return ScsiStatus.name(r.status()) + (r.sense() == null ? "" : " " + r.senseCode());
    }

    private static void assertGood(ScsiTestBed.Result r) {
        assertThat(answer(r)).isEqualTo("GOOD");
    }

    private static void assertWriteError(ScsiTestBed.Result r) {
        assertThat(answer(r)).isEqualTo("CHECK CONDITION " + WRITE_ERROR);
    }

    private static void assertBusy(ScsiTestBed.Result r) {
        assertThat(r.status()).as(answer(r)).isIn(ScsiStatus.BUSY, ScsiStatus.TASK_SET_FULL);
    }

    // ----- CDBs -----

    private static byte[] write10(int lba, int blocks, boolean fua) {
        byte[] cdb = ScsiTestBed.write10(lba, blocks);
        cdb[1] = (byte) (fua ? 0x08 : 0);
        return cdb;
    }

    private static byte[] syncCache() {
        return new byte[] {0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    }

    private static byte[] writeSame10(int lba, int blocks, boolean unmap) {
        return new byte[] {0x41, (byte) (unmap ? 0x08 : 0), 0, 0, 0, (byte) lba, 0, 0, (byte) blocks, 0};
    }

    private static byte[] unmapCdb() {
        return new byte[] {0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0};
    }

    private static byte[] unmapList(int lba, int blocks) {
        byte[] list = new byte[24];
        list[1] = 22;
        list[3] = 16;
        list[15] = (byte) lba;
        list[19] = (byte) blocks;
        return list;
    }

    private static byte[] modeSelectCaching(boolean wce) {
        byte[] list = new byte[8 + 20];
        list[8] = 0x08;
        list[9] = 0x12;
        list[10] = (byte) (wce ? 0x04 : 0);
        return list;
    }

    private static byte[] modeSelect10(int length) {
        return new byte[] {0x55, 0x10, 0, 0, 0, 0, 0, 0, (byte) length, 0};
    }

    private static byte[] modeSenseCaching(int pageControl) {
        return new byte[] {0x5A, 0x08, (byte) ((pageControl << 6) | 0x08), 0, 0, 0, 0, 0, (byte) 64, 0};
    }

    private static IoFailure errno(int e) {
        return IoFailure.ofErrno(e, "injected " + Errno.name(e));
    }

    // ----- tests -----

    @Nested
    class FlushFailures {
        @Test
        void aFailedFlushIsNeverBusyAndEveryInitiatorThatWroteHearsOfItOnce() {
            unit(true, true);
            ItlNexus a = login("iqn.2026-01.test:a");
            ItlNexus b = login("iqn.2026-01.test:b");
            ItlNexus c = login("iqn.2026-01.test:c");
            assertGood(run(a, write10(LBA, 1, false), ScsiTestBed.block(1)));
            assertGood(run(b, write10(LBA + 1, 1, false), ScsiTestBed.block(2)));

            // The storage goes away under a flush: the data the flush was to make durable may be
            // gone (the kernel may have dropped it), so a retried flush must not say GOOD.
            device.failFlushes(errno(Errno.ENOTCONN), 1);
            assertWriteError(run(a, syncCache()));
            assertThat(gate.inStandby()).as("the storage is unavailable: standby for what follows").isTrue();
            assertBusy(run(b, syncCache()));

            gate.storageRecovered(); // lun recover
            assertWriteError(run(b, syncCache()));
            assertGood(run(b, syncCache()));
            assertGood(run(a, syncCache()));
            assertGood(run(c, syncCache()));
        }

        @Test
        void aFlushErrorNotInTheStandbySetIsAWriteErrorToo() {
            unit(true, true);
            ItlNexus a = login("iqn.2026-01.test:a");
            assertGood(run(a, write10(LBA, 1, false), ScsiTestBed.block(1)));
            device.failFlushes(errno(Errno.ENOSPC), 1);
            assertWriteError(run(a, syncCache()));
            assertThat(gate.inStandby()).isFalse();
            assertGood(run(a, syncCache()));
        }

        @Test
        void aFuaWriteOfAnInitiatorThatMissedAWritebackErrorFails() {
            unit(true, true);
            ItlNexus a = login("iqn.2026-01.test:a");
            assertGood(run(a, write10(LBA, 1, false), ScsiTestBed.block(1)));
            gate.writebackFailed(errno(Errno.EIO)); // e.g. the old image of a switch could not be synced
            assertWriteError(run(a, write10(LBA + 2, 1, true), ScsiTestBed.block(3)));
            assertGood(run(a, write10(LBA + 2, 1, true), ScsiTestBed.block(3)));
        }

        @Test
        void aReinstatedSessionOfTheSamePortStillHearsOfIt() {
            unit(true, true);
            ItlNexus before = login("iqn.2026-01.test:a");
            assertGood(run(before, write10(LBA, 1, false), ScsiTestBed.block(1)));
            lu.detach(before, true); // the connection dropped
            ItlNexus after = login("iqn.2026-01.test:a");
            gate.writebackFailed(errno(Errno.EIO));
            assertWriteError(run(after, syncCache()));
        }

        @Test
        void aDurableWriteWhoseFlushMeetsAnOutageIsBusyForAnInitiatorWithNothingCached() {
            unit(false, true); // write cache off: every write is flushed before GOOD, nothing is cached
            ItlNexus a = login("iqn.2026-01.test:a");
            device.failFlushes(errno(Errno.ENOTCONN), 1);
            // its own data is what the flush was for, and the retry sends it again: BUSY hides the outage
            assertBusy(run(a, write10(LBA, 1, false), ScsiTestBed.block(4)));
            assertThat(gate.inStandby()).isTrue();
            gate.storageRecovered();
            assertGood(run(a, write10(LBA, 1, false), ScsiTestBed.block(4)));
            assertGood(run(a, syncCache()));
        }

        @Test
        void anInitiatorThatFlushedBeforeTheErrorIsNotConcerned() {
            unit(true, true);
            ItlNexus a = login("iqn.2026-01.test:a");
            assertGood(run(a, write10(LBA, 1, false), ScsiTestBed.block(1)));
            assertGood(run(a, syncCache()));
            gate.writebackFailed(errno(Errno.EIO));
            assertGood(run(a, syncCache()));
        }
    }

    @Nested
    class LateAnswers {
        @Test
        void aWriteThatSucceedsOnReplacedStorageIsAnsweredBusyNotGood() {
            unit(true, true);
            ItlNexus a = login("iqn.2026-01.test:a");
            device.holdNext();
            ScsiTestBed.FakeCommand late = start(a, write10(LBA, 1, false), ScsiTestBed.block(7));
            assertThat(device.holding()).isTrue();
            gate.storageMoved(); // the LUN switched to other storage meanwhile
            device.release();
            assertBusy(result(late));
            assertThat(gate.inFlight()).isZero();
        }

        @Test
        void aWriteThatSucceedsAfterADriversRecoveryIsGood() {
            unit(true, true);
            ItlNexus a = login("iqn.2026-01.test:a");
            device.holdNext();
            ScsiTestBed.FakeCommand reissued = start(a, write10(LBA, 1, false), ScsiTestBed.block(7));
            gate.storageRecovered(); // a new driver took over the same storage: no move
            device.release();
            assertGood(result(reissued));
        }

        @Test
        void aFailureFromReplacedStorageIsAnsweredBusyAndStandbyStaysOff() {
            unit(true, true);
            ItlNexus a = login("iqn.2026-01.test:a");
            device.holdNext();
            ScsiTestBed.FakeCommand late = start(a, ScsiTestBed.read10(LBA, 1), null);
            gate.storageRecovered();
            device.releaseFailing(errno(Errno.ENOTCONN));
            assertBusy(result(late));
            assertThat(gate.inStandby()).as("a straggler does not bring standby back").isFalse();
            assertGood(run(a, ScsiTestBed.read10(LBA, 1)));
        }

        @Test
        void aRetryFailureIsBusyWhateverTheGateSays() {
            unit(true, true);
            ItlNexus a = login("iqn.2026-01.test:a");
            device.holdNext();
            ScsiTestBed.FakeCommand c = start(a, ScsiTestBed.read10(LBA, 1), null);
            device.releaseFailing(IoFailure.of(IoFailure.Kind.RETRY, 0, "cancelled"));
            assertBusy(result(c));
            assertThat(gate.inStandby()).isFalse();
        }
    }

    @Nested
    class WriteCacheOff {
        @Test
        void writeSameAndUnmapAreFlushedBeforeGood() {
            unit(false, true);
            ItlNexus a = login("iqn.2026-01.test:a");
            int before = device.flushes.get();
            assertGood(run(a, writeSame10(LBA, 4, false), ScsiTestBed.block(5)));
            assertGood(run(a, unmapCdb(), unmapList(LBA, 4)));
            assertGood(run(a, writeSame10(LBA, 4, true), new byte[BLOCK]));
            assertThat(device.flushes.get() - before).isEqualTo(3);

            device.failFlushes(errno(Errno.ENOSPC), 2); // not a standby errno: both commands reach the device
            assertWriteError(run(a, writeSame10(LBA, 4, false), ScsiTestBed.block(5)));
            assertWriteError(run(a, unmapCdb(), unmapList(LBA, 4)));
        }

        @Test
        void turningTheCacheOffFlushesWhatItHoldsFirst() {
            unit(true, true);
            ItlNexus a = login("iqn.2026-01.test:a");
            assertGood(run(a, write10(LBA, 1, false), ScsiTestBed.block(1)));
            byte[] off = modeSelectCaching(false);

            device.failFlushes(errno(Errno.EIO), 1);
            assertWriteError(run(a, modeSelect10(off.length), off));
            assertThat(lu.writeCacheEnabled()).as("not turned off: its data is not durable").isTrue();

            int before = device.flushes.get();
            assertGood(run(a, modeSelect10(off.length), off));
            assertThat(device.flushes.get()).isEqualTo(before + 1);
            assertThat(lu.writeCacheEnabled()).isFalse();
        }

        @Test
        void theDefaultCachingPageReportsTheConfiguredWriteCache() {
            unit(false, true);
            ItlNexus a = login("iqn.2026-01.test:a");
            for (int pageControl : List.of(0, 2)) {
                ScsiTestBed.Result r = run(a, modeSenseCaching(pageControl));
                assertGood(r);
                assertThat(r.u8(8)).isEqualTo(0x08);
                assertThat(r.u8(10) & 0x04).as("WCE with page control %d", pageControl).isZero();
            }
        }
    }

    @Nested
    class ZerosAfterUnmap {
        @Test
        void aDeviceWhoseUnmappedBlocksMayNotReadAsZerosClaimsNoLbprzAndWriteSameWritesTheZeros() {
            unit(true, false);
            ItlNexus a = login("iqn.2026-01.test:a");
            ScsiTestBed.Result b2 = run(a, new byte[] {0x12, 0x01, (byte) 0xB2, 0, (byte) 0xFF, 0});
            assertThat(b2.u8(5)).as("LBPU, LBPWS, LBPWS10 without LBPRZ").isEqualTo(0xE0);
            ScsiTestBed.Result capacity = run(a, new byte[] {(byte) 0x9E, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0});
            assertThat(capacity.u8(14) & 0xC0).as("LBPME without LBPRZ").isEqualTo(0x80);

            assertGood(run(a, write10(LBA, 1, false), ScsiTestBed.block(9)));
            int unmaps = device.unmaps.get();
            assertGood(run(a, writeSame10(LBA, 1, true), new byte[BLOCK]));
            assertThat(device.unmaps.get()).as("zeros written, not unmapped").isEqualTo(unmaps);
            assertThat(run(a, ScsiTestBed.read10(LBA, 1)).data()).isEqualTo(new byte[BLOCK]);
        }

        @Test
        void aDeviceWhoseUnmappedBlocksReadAsZerosUnmapsForWriteSameOfZeros() {
            unit(true, true);
            ItlNexus a = login("iqn.2026-01.test:a");
            ScsiTestBed.Result b2 = run(a, new byte[] {0x12, 0x01, (byte) 0xB2, 0, (byte) 0xFF, 0});
            assertThat(b2.u8(5)).isEqualTo(0xE4);
            int unmaps = device.unmaps.get();
            assertGood(run(a, writeSame10(LBA, 1, true), new byte[BLOCK]));
            assertThat(device.unmaps.get()).isEqualTo(unmaps + 1);
        }
    }
}
