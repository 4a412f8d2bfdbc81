package org.rtarget.server.iscsi;

import java.nio.ByteBuffer;
import java.util.List;

/** Builds initiator PDUs (RFC 7143 section 11) as raw bytes: BHS, then the padded data segment. */
final class TestPdus {
    static final int RESERVED = 0xFFFFFFFF;

    static final int NOP_OUT = 0x00;
    static final int SCSI_COMMAND = 0x01;
    static final int LOGIN_REQUEST = 0x03;
    static final int TEXT_REQUEST = 0x04;
    static final int DATA_OUT = 0x05;
    static final int LOGOUT_REQUEST = 0x06;

    static final int NOP_IN = 0x20;
    static final int SCSI_RESPONSE = 0x21;
    static final int LOGIN_RESPONSE = 0x23;
    static final int TEXT_RESPONSE = 0x24;
    static final int DATA_IN = 0x25;
    static final int LOGOUT_RESPONSE = 0x26;
    static final int R2T = 0x31;
    static final int REJECT = 0x3F;

    /** SCSI Command flags: F, R, W and the SIMPLE task attribute. */
    static final int F = 0x80;
    static final int READ = 0x40;
    static final int WRITE = 0x20;
    static final int SIMPLE = 0x01;

    private TestPdus() {
    }

    /** A PDU: the header filled in by {@code bhs}, DataSegmentLength and padding added here. */
    static byte[] pdu(ByteBuffer bhs, byte[] data) {
        int dlen = data == null ? 0 : data.length;
        ByteBuffer out = ByteBuffer.allocate(48 + ((dlen + 3) & ~3));
        out.put(bhs.array(), 0, 48);
        out.put(5, (byte) (dlen >>> 16)).put(6, (byte) (dlen >>> 8)).put(7, (byte) dlen);
        if (dlen > 0) {
            out.put(48, data);
        }
        return out.array();
    }

    static ByteBuffer header(int opcode, boolean immediate, int flags) {
        ByteBuffer h = ByteBuffer.allocate(48);
        h.put(0, (byte) (opcode | (immediate ? 0x40 : 0)));
        h.put(1, (byte) flags);
        return h;
    }

    private static void isid(ByteBuffer h, long isid) {
        h.putInt(8, (int) (isid >>> 16));
        h.putShort(12, (short) isid);
    }

    /** A Login Request going from the operational stage to full feature phase (T=1, CSG=1, NSG=3). */
    static byte[] login(long isid, int itt, int cmdSn, int expStatSn, List<String> keys) {
        return login(isid, 0, itt, cmdSn, expStatSn, 0, keys);
    }

    static byte[] login(long isid, int tsih, int itt, int cmdSn, int expStatSn, int versionMin, List<String> keys) {
        ByteBuffer h = header(LOGIN_REQUEST, true, 0x80 | 1 << 2 | 3);
        h.put(2, (byte) 0); // version-max
        h.put(3, (byte) versionMin);
        isid(h, isid);
        h.putShort(14, (short) tsih);
        h.putInt(16, itt);
        h.putInt(20, 0); // CID 0
        h.putInt(24, cmdSn);
        h.putInt(28, expStatSn);
        return pdu(h, Captures.text(keys));
    }

    /** A Login Request with the given stage flags (T bit, CSG, NSG), e.g. 0x81 for Security to Operational. */
    static byte[] loginStage(long isid, int itt, int cmdSn, int expStatSn, int flags, List<String> keys) {
        byte[] pdu = login(isid, 0, itt, cmdSn, expStatSn, 0, keys);
        pdu[1] = (byte) flags;
        return pdu;
    }

    static byte[] scsiCommand(int flags, long lunField, int itt, int edtl, int cmdSn, int expStatSn, byte[] cdb,
                              byte[] immediateData) {
        ByteBuffer h = header(SCSI_COMMAND, false, flags);
        h.putLong(8, lunField);
        h.putInt(16, itt);
        h.putInt(20, edtl);
        h.putInt(24, cmdSn);
        h.putInt(28, expStatSn);
        h.put(32, cdb);
        return pdu(h, immediateData);
    }

    static byte[] dataOut(boolean fin, long lunField, int itt, int ttt, int expStatSn, int dataSn, int offset,
                          byte[] data) {
        ByteBuffer h = header(DATA_OUT, false, fin ? F : 0);
        h.putLong(8, lunField);
        h.putInt(16, itt);
        h.putInt(20, ttt);
        h.putInt(28, expStatSn);
        h.putInt(36, dataSn);
        h.putInt(40, offset);
        return pdu(h, data);
    }

    static byte[] nopOut(boolean immediate, int itt, int cmdSn, int expStatSn, byte[] ping) {
        ByteBuffer h = header(NOP_OUT, immediate, F);
        h.putInt(16, itt);
        h.putInt(20, RESERVED);
        h.putInt(24, cmdSn);
        h.putInt(28, expStatSn);
        return pdu(h, ping);
    }

    static byte[] text(int itt, int cmdSn, int expStatSn, List<String> keys) {
        ByteBuffer h = header(TEXT_REQUEST, true, F);
        h.putInt(16, itt);
        h.putInt(20, RESERVED);
        h.putInt(24, cmdSn);
        h.putInt(28, expStatSn);
        return pdu(h, Captures.text(keys));
    }

    static byte[] logout(int itt, int cmdSn, int expStatSn) {
        ByteBuffer h = header(LOGOUT_REQUEST, true, F); // reason 0: close the session
        h.putInt(16, itt);
        h.putInt(24, cmdSn);
        h.putInt(28, expStatSn);
        return pdu(h, null);
    }

    // ----- CDBs -----

    static byte[] testUnitReady() {
        return new byte[16];
    }

    static byte[] read10(int lba, int blocks) {
        return cdb10(0x28, lba, blocks);
    }

    static byte[] write10(int lba, int blocks) {
        return cdb10(0x2A, lba, blocks);
    }

    private static byte[] cdb10(int opcode, int lba, int blocks) {
        ByteBuffer cdb = ByteBuffer.allocate(16);
        cdb.put(0, (byte) opcode);
        cdb.putInt(2, lba);
        cdb.putShort(7, (short) blocks);
        return cdb.array();
    }
}
