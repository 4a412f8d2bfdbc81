package org.rtarget.server.iscsi;

import java.nio.ByteBuffer;
import java.util.HexFormat;
import java.util.List;

/** A PDU the target sent, as the initiator reads it off the wire (no digests). */
record WirePdu(byte[] bhs, byte[] data) {

    private ByteBuffer h() {
        return ByteBuffer.wrap(bhs);
    }

    int opcode() {
        return bhs[0] & 0x3F;
    }

    int flags() {
        return bhs[1] & 0xFF;
    }

    boolean finalBit() {
        return (flags() & 0x80) != 0;
    }

    int byte2() {
        return bhs[2] & 0xFF;
    }

    int byte3() {
        return bhs[3] & 0xFF;
    }

    int dataSegmentLength() {
        return h().getInt(4) & 0xFFFFFF;
    }

    long lunOrIsid() {
        return h().getLong(8);
    }

    /** ISID of a Login Response (bytes 8-13). */
    long isid() {
        return (h().getInt(8) & 0xFFFFFFFFL) << 16 | (h().getShort(12) & 0xFFFF);
    }

    int tsih() {
        return h().getShort(14) & 0xFFFF;
    }

    int itt() {
        return h().getInt(16);
    }

    /** Target transfer tag (NOP-In, R2T, Text Response) or SNACK tag. */
    int ttt() {
        return h().getInt(20);
    }

    int statSn() {
        return h().getInt(24);
    }

    int expCmdSn() {
        return h().getInt(28);
    }

    int maxCmdSn() {
        return h().getInt(32);
    }

    /** DataSN of a Data-In, R2TSN of an R2T, ExpDataSN of a SCSI Response. */
    int word36() {
        return h().getInt(36);
    }

    /** Buffer offset of a Data-In or R2T. */
    int word40() {
        return h().getInt(40);
    }

    /** Residual count, or the desired data transfer length of an R2T. */
    int word44() {
        return h().getInt(44);
    }

    /** Status-Class and Status-Detail of a Login Response. */
    int loginStatus() {
        return (bhs[36] & 0xFF) << 8 | (bhs[37] & 0xFF);
    }

    /** The key=value pairs of a Login or Text Response. */
    List<String> keys() {
        return Captures.pairs(data);
    }

    /** Sense key, ASC and ASCQ of a SCSI Response carrying fixed-format sense data, as "6/29/00". */
    String sense() {
        if (data.length < 2 + 14) {
            return null;
        }
        return String.format("%x/%02x/%02x", data[2 + 2] & 0x0F, data[2 + 12] & 0xFF, data[2 + 13] & 0xFF);
    }

    @Override
    public String toString() {
        return String.format("opcode 0x%02x flags 0x%02x itt 0x%08x dlen %d bhs %s", opcode(), flags(), itt(),
                data.length, HexFormat.of().formatHex(bhs));
    }
}
