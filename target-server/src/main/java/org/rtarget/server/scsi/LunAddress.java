package org.rtarget.server.scsi;

/**
 * The 8-byte SAM LUN field: peripheral device addressing for LUNs below 256, flat space addressing
 * up to 16383 (SAM-5 4.7).
 */
public final class LunAddress {
    private LunAddress() {
    }

    public static long encode(int lun) {
        if (lun < 256) {
            return (long) lun << 48;
        }
        return ((long) (0x40 | (lun >>> 8)) << 56) | ((long) (lun & 0xFF) << 48);
    }

    /** The LUN number of an 8-byte LUN field, or -1 for a form this target does not use. */
    public static int decode(long field) {
        int method = (int) (field >>> 62) & 0x3;
        int first = (int) (field >>> 48) & 0x3FFF;
        if ((field & 0x0000_FFFF_FFFF_FFFFL) != 0) {
            return -1;
        }
        return switch (method) {
            case 0 -> (first >>> 8) == 0 ? first & 0xFF : -1; // peripheral, bus 0
            case 1 -> first;                                   // flat space
            default -> -1;
        };
    }
}
