package org.rtarget.server.scsi;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import java.util.Arrays;
import org.rtarget.backend.memory.MemoryDevice;
import org.rtarget.gate.StandbyGate;

/**
 * One logical unit on a memory device, driven through {@link ScsiCore} the way the iSCSI layer
 * does it, with fake initiators instead of sessions. Commands complete synchronously here.
 */
final class ScsiTestBed {
    static final int BLOCK = 512;

    final LogicalUnit lu = new LogicalUnit(LunIdentity.of("testbed", "memory"), new MemoryDevice(1 << 20, BLOCK),
            new StandbyGate("testbed"), false, true);

    /** Logs an initiator port in: a new I_T_L nexus on the unit, with no unit attention pending. */
    ItlNexus login(String initiatorName, long isid) {
        ItlNexus nexus = new ItlNexus(new FakeInitiator(initiatorName, isid), 0, lu);
        lu.attach(nexus);
        nexus.clearUnitAttentions();
        return nexus;
    }

    /** The session ends (logout). */
    void logout(ItlNexus nexus) {
        lu.detach(nexus, false);
    }

    /** What a command ended with. */
    record Result(int status, byte[] sense, byte[] data) {
        int senseKey() {
            return sense == null ? -1 : sense[2] & 0x0F;
        }

        /** "key/asc/ascq" in hex, e.g. "6/2A/05", or "" without sense. */
        String senseCode() {
            return sense == null ? "" : String.format("%X/%02X/%02X", sense[2] & 0x0F, sense[12] & 0xFF, sense[13] & 0xFF);
        }

        int u8(int i) {
            return data[i] & 0xFF;
        }

        int u16(int i) {
            return (u8(i) << 8) | u8(i + 1);
        }

        long u32(int i) {
            return ((long) u16(i) << 16) | u16(i + 2);
        }

        long u64(int i) {
            return (u32(i) << 32) | u32(i + 4);
        }
    }

    /** Runs one command; {@code dataOut} is the data-out (null for none). */
    Result run(ItlNexus nexus, byte[] cdb, byte[] dataOut) {
        FakeCommand c = new FakeCommand();
        c.cdb = Unpooled.wrappedBuffer(Arrays.copyOf(cdb, 16));
        c.itl = nexus;
        c.expectedLength = dataOut == null ? 0 : dataOut.length;
        if (ScsiCore.setup(c)) {
            if (c.direction() == ScsiCommand.Direction.OUT && c.transferLength() > 0) {
                c.setData(Unpooled.wrappedBuffer(dataOut));
            }
            ScsiCore.execute(c);
            if (!c.done) {
                throw new AssertionError(c.opName() + " did not complete");
            }
        }
        ByteBuf data = c.takeData();
        byte[] bytes = new byte[0];
        if (data != null) {
            bytes = ByteBufUtil.getBytes(data);
            data.release();
        }
        return new Result(c.status(), c.sense(), bytes);
    }

    Result run(ItlNexus nexus, byte[] cdb) {
        return run(nexus, cdb, null);
    }

    // ----- CDBs -----

    static byte[] testUnitReady() {
        return new byte[6];
    }

    static byte[] inquiry() {
        return new byte[] {0x12, 0, 0, 0, (byte) 96, 0};
    }

    static byte[] read10(int lba, int blocks) {
        return new byte[] {0x28, 0, 0, 0, (byte) (lba >>> 8), (byte) lba, 0, 0, (byte) blocks, 0};
    }

    static byte[] write10(int lba, int blocks) {
        return new byte[] {0x2A, 0, 0, 0, (byte) (lba >>> 8), (byte) lba, 0, 0, (byte) blocks, 0};
    }

    static byte[] reserve6() {
        return new byte[] {0x16, 0, 0, 0, 0, 0};
    }

    static byte[] release6() {
        return new byte[] {0x17, 0, 0, 0, 0, 0};
    }

    static byte[] persistentReserveIn(int serviceAction, int allocationLength) {
        return new byte[] {0x5E, (byte) serviceAction, 0, 0, 0, 0, 0,
            (byte) (allocationLength >>> 8), (byte) allocationLength, 0};
    }

    static byte[] persistentReserveOut(int serviceAction, int type) {
        return new byte[] {0x5F, (byte) serviceAction, (byte) type, 0, 0, 0, 0, 0, 24, 0};
    }

    /** The basic 24-byte PERSISTENT RESERVE OUT parameter list. */
    static byte[] parameters(long key, long serviceActionKey, int flags) {
        ByteBuf b = Unpooled.buffer(24);
        b.writeLong(key);
        b.writeLong(serviceActionKey);
        b.writeInt(0);
        b.writeByte(flags);
        b.writeZero(3);
        return b.array();
    }

    static byte[] reportSupportedOpcodes(int options, boolean rctd, int opcode, int serviceAction) {
        return new byte[] {(byte) 0xA3, 0x0C, (byte) ((rctd ? 0x80 : 0) | options), (byte) opcode,
            (byte) (serviceAction >>> 8), (byte) serviceAction, 0, 0, 0x10, 0, 0, 0};
    }

    /** A write's data: one block of a byte. */
    static byte[] block(int value) {
        byte[] b = new byte[BLOCK];
        Arrays.fill(b, (byte) value);
        return b;
    }

    /** The transport side of an I_T nexus: an initiator name and ISID, one target port. */
    record FakeInitiator(String initiatorName, long isid) implements ItNexus {
        @Override
        public String targetName() {
            return "iqn.2026-11.org.rtarget:testbed";
        }

        @Override
        public String initiatorPortName() {
            return String.format("%s,i,0x%012x", initiatorName, isid);
        }

        @Override
        public int relativeTargetPort() {
            return 1;
        }

        @Override
        public int[] reportedLuns() {
            return new int[] {0};
        }
    }

    /** A command as the transport sees it, minus the transport. */
    static final class FakeCommand extends ScsiCommand {
        boolean done;

        @Override
        protected ByteBufAllocator alloc() {
            return UnpooledByteBufAllocator.DEFAULT;
        }

        @Override
        protected int outstandingCommands() {
            return 1;
        }

        @Override
        protected void commandDone() {
            done = true;
        }
    }
}
