package org.rtarget.server.iscsi;

import java.util.zip.CRC32C;

/** CRC32C digests as RFC 7143 puts them on the wire (little-endian), independent of the main code. */
final class Crc {
    private Crc() {
    }

    static int crc32c(byte[] b, int offset, int length) {
        CRC32C crc = new CRC32C();
        crc.update(b, offset, length);
        return (int) crc.getValue();
    }

    /** The digest stored at {@code offset}, little-endian. */
    static int wire(byte[] b, int offset) {
        return (b[offset] & 0xFF) | (b[offset + 1] & 0xFF) << 8 | (b[offset + 2] & 0xFF) << 16
                | (b[offset + 3] & 0xFF) << 24;
    }

    static void put(byte[] b, int offset, int digest) {
        b[offset] = (byte) digest;
        b[offset + 1] = (byte) (digest >>> 8);
        b[offset + 2] = (byte) (digest >>> 16);
        b[offset + 3] = (byte) (digest >>> 24);
    }

    /** A PDU without digests (no AHS) with a header digest and, if it has data, a data digest added. */
    static byte[] withDigests(byte[] pdu, boolean header, boolean data) {
        int dlen = (pdu[5] & 0xFF) << 16 | (pdu[6] & 0xFF) << 8 | (pdu[7] & 0xFF);
        int padded = (dlen + 3) & ~3;
        boolean dd = data && dlen > 0;
        byte[] out = new byte[48 + (header ? 4 : 0) + padded + (dd ? 4 : 0)];
        System.arraycopy(pdu, 0, out, 0, 48);
        int dataAt = 48;
        if (header) {
            put(out, 48, crc32c(pdu, 0, 48));
            dataAt = 52;
        }
        System.arraycopy(pdu, 48, out, dataAt, padded);
        if (dd) {
            put(out, dataAt + padded, crc32c(pdu, 48, padded));
        }
        return out;
    }
}
