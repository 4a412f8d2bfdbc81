package org.rtarget.server.scsi;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;

/**
 * Standard INQUIRY data and the vital product data pages of a direct-access disk (SPC-4 6.6, 7.8;
 * SBC-3 6.6). Each method appends one complete page to the buffer.
 */
final class InquiryData {
    static final int PAGE_SUPPORTED = 0x00;
    static final int PAGE_SERIAL = 0x80;
    static final int PAGE_DEVICE_ID = 0x83;
    static final int PAGE_BLOCK_LIMITS = 0xB0;
    static final int PAGE_BLOCK_CHARACTERISTICS = 0xB1;
    static final int PAGE_PROVISIONING = 0xB2;
    private static final int[] PAGES = {
        PAGE_SUPPORTED, PAGE_SERIAL, PAGE_DEVICE_ID, PAGE_BLOCK_LIMITS, PAGE_BLOCK_CHARACTERISTICS, PAGE_PROVISIONING
    };

    /** Peripheral qualifier 000b, device type 00h: a direct-access block device that is present. */
    static final int DISK = 0x00;
    /** Qualifier 011b, type 1Fh: no logical unit at this LUN. */
    static final int NO_UNIT = 0x7F;

    /** Version descriptors: SAM-5, iSCSI, SPC-4, SBC-3. */
    private static final int[] VERSION_DESCRIPTORS = {0x00A0, 0x0960, 0x0460, 0x04C0};

    private InquiryData() {
    }

    static boolean supportsPage(int page) {
        for (int p : PAGES) {
            if (p == page) {
                return true;
            }
        }
        return false;
    }

    /** Standard INQUIRY data, 74 bytes (with version descriptors). */
    static void standard(ByteBuf out, LogicalUnit lu) {
        int start = out.writerIndex();
        out.writeByte(lu == null ? NO_UNIT : DISK);
        out.writeByte(0);            // RMB=0: not removable
        out.writeByte(0x06);         // VERSION: SPC-4
        out.writeByte(0x12);         // HISUP, response data format 2
        out.writeByte(0);            // additional length, patched below
        out.writeByte(0);            // SCCS, ACC, TPGS, 3PC, PROTECT all off
        out.writeByte(0);
        out.writeByte(0x02);         // CMDQUE: full task management model
        LunIdentity id = lu == null ? null : lu.identity();
        writeAscii(out, id == null ? LunIdentity.VENDOR : id.vendor(), 8);
        writeAscii(out, id == null ? "no unit" : id.product(), 16);
        writeAscii(out, LunIdentity.REVISION, 4);
        out.writeZero(58 - 36);      // vendor specific, reserved
        for (int d : VERSION_DESCRIPTORS) {
            out.writeShort(d);
        }
        out.setByte(start + 4, out.writerIndex() - start - 5);
    }

    static void page(ByteBuf out, int page, LogicalUnit lu, ItNexus it) {
        switch (page) {
            case PAGE_SUPPORTED -> supportedPages(out);
            case PAGE_SERIAL -> serial(out, lu);
            case PAGE_DEVICE_ID -> deviceIdentification(out, lu, it);
            case PAGE_BLOCK_LIMITS -> blockLimits(out, lu);
            case PAGE_BLOCK_CHARACTERISTICS -> blockCharacteristics(out);
            case PAGE_PROVISIONING -> provisioning(out, lu);
            default -> throw new IllegalArgumentException("unsupported VPD page " + page);
        }
    }

    private static void header(ByteBuf out, int page, int length) {
        out.writeByte(DISK);
        out.writeByte(page);
        out.writeShort(length);
    }

    private static void supportedPages(ByteBuf out) {
        header(out, PAGE_SUPPORTED, PAGES.length);
        for (int p : PAGES) {
            out.writeByte(p);
        }
    }

    private static void serial(ByteBuf out, LogicalUnit lu) {
        byte[] serial = lu.identity().serial().getBytes(StandardCharsets.US_ASCII);
        header(out, PAGE_SERIAL, serial.length);
        out.writeBytes(serial);
    }

    /** Device identification: NAA and T10 vendor id for the LU, then the target port and device. */
    private static void deviceIdentification(ByteBuf out, LogicalUnit lu, ItNexus it) {
        int start = out.writerIndex();
        header(out, PAGE_DEVICE_ID, 0);
        // NAA, binary, associated with the logical unit.
        designator(out, 0x01, 0x03, lu.identity().naaBytes());
        // T10 vendor identification: vendor (8 bytes) + the LUN's serial, ASCII.
        byte[] t10 = (pad(lu.identity().vendor(), 8) + lu.identity().serial()).getBytes(StandardCharsets.US_ASCII);
        designator(out, 0x02, 0x01, t10);
        // Relative target port (association: target port, PIV, protocol iSCSI).
        designator(out, 0x51, 0x94, new byte[] {0, 0, (byte) (it.relativeTargetPort() >>> 8), (byte) it.relativeTargetPort()});
        // SCSI name string of the target port: "<iqn>,t,0x<tpgt>".
        String portName = it.targetName() + ",t,0x" + String.format("%04x", it.relativeTargetPort());
        designator(out, 0x53, 0x98, scsiName(portName));
        // SCSI name string of the target device.
        designator(out, 0x53, 0xA8, scsiName(it.targetName()));
        out.setShort(start + 2, out.writerIndex() - start - 4);
    }

    /** One designation descriptor: protocol id and code set, PIV/association/type, length, value. */
    private static void designator(ByteBuf out, int protocolAndCodeSet, int pivAssocType, byte[] value) {
        out.writeByte(protocolAndCodeSet);
        out.writeByte(pivAssocType);
        out.writeByte(0);
        out.writeByte(value.length);
        out.writeBytes(value);
    }

    /** A SCSI name string: UTF-8, null-terminated, padded with nulls to a multiple of 4 bytes. */
    private static byte[] scsiName(String name) {
        byte[] utf8 = name.getBytes(StandardCharsets.UTF_8);
        int len = (utf8.length + 1 + 3) & ~3;
        byte[] out = new byte[len];
        System.arraycopy(utf8, 0, out, 0, utf8.length);
        return out;
    }

    private static void blockLimits(ByteBuf out, LogicalUnit lu) {
        header(out, PAGE_BLOCK_LIMITS, 0x3C);
        int maxBlocks = LogicalUnit.MAX_TRANSFER_BYTES / lu.blockSize();
        boolean thin = lu.thinProvisioned();
        out.writeByte(0x01);                    // WSNZ: WRITE SAME of zero blocks is refused
        out.writeByte(0);                       // maximum COMPARE AND WRITE length: not supported
        out.writeShort(1);                      // optimal transfer length granularity
        out.writeInt(maxBlocks);                // maximum transfer length
        out.writeInt((1 << 20) / lu.blockSize()); // optimal transfer length: 1 MiB
        out.writeInt(maxBlocks);                // maximum prefetch length
        out.writeInt(thin ? ProvisioningOps.MAX_UNMAP_BLOCKS : 0);      // maximum UNMAP LBA count
        out.writeInt(thin ? ProvisioningOps.MAX_UNMAP_DESCRIPTORS : 0); // maximum UNMAP descriptors
        out.writeInt(thin ? Math.max(1, lu.device().unmapGranularity() / lu.blockSize()) : 0); // optimal unmap granularity
        out.writeInt(0);                        // unmap granularity alignment (UGAVALID=0)
        out.writeLong(ProvisioningOps.maxWriteSameBlocks(lu)); // maximum WRITE SAME length
        out.writeZero(0x40 - 44);
    }

    private static void blockCharacteristics(ByteBuf out) {
        header(out, PAGE_BLOCK_CHARACTERISTICS, 0x3C);
        out.writeShort(1);                      // medium rotation rate: non-rotating
        out.writeZero(0x3C - 2);
    }

    /** Logical block provisioning: thin LUNs unmap through UNMAP and WRITE SAME, and read zeros after. */
    private static void provisioning(ByteBuf out, LogicalUnit lu) {
        header(out, PAGE_PROVISIONING, 4);
        boolean thin = lu.thinProvisioned();
        out.writeByte(0);                       // threshold exponent
        // LBPU, LBPWS, LBPWS10, and LBPRZ=001b only where unmapped blocks really read as zeros
        out.writeByte(thin ? (lu.unmapReadsZeros() ? 0xE4 : 0xE0) : 0); // no anchors, no DP
        out.writeByte(thin ? 0x02 : 0);         // provisioning type: thin, or full
        out.writeByte(0);
    }

    static void writeAscii(ByteBuf out, String s, int width) {
        out.writeBytes(pad(s, width).getBytes(StandardCharsets.US_ASCII), 0, width);
    }

    private static String pad(String s, int width) {
        StringBuilder b = new StringBuilder(s.length() > width ? s.substring(0, width) : s);
        while (b.length() < width) {
            b.append(' ');
        }
        return b.toString();
    }
}
