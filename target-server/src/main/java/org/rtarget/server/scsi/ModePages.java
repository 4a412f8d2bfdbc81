package org.rtarget.server.scsi;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

/**
 * The mode pages of a disk (SPC-4 7.5, SBC-3 6.5): caching (WCE is the one changeable bit), control
 * and informational exceptions control. MODE SENSE reads them, MODE SELECT may change WCE; the default values are the configured ones.
 */
final class ModePages {
    static final int CACHING = 0x08;
    static final int CONTROL = 0x0A;
    static final int INFORMATIONAL_EXCEPTIONS = 0x1C;
    static final int ALL = 0x3F;

    static final int PC_CURRENT = 0;
    static final int PC_CHANGEABLE = 1;
    static final int PC_DEFAULT = 2;
    static final int PC_SAVED = 3;

    private static final int CACHING_LENGTH = 0x12;
    private static final int CONTROL_LENGTH = 0x0A;
    private static final int IEC_LENGTH = 0x0A;
    private static final int WCE = 0x04;

    private ModePages() {
    }

    static boolean supports(int page) {
        return page == CACHING || page == CONTROL || page == INFORMATIONAL_EXCEPTIONS || page == ALL;
    }

    /** Appends the requested page (or all pages, in ascending order) for the page control. */
    static void write(ByteBuf out, int page, int pc, LogicalUnit lu) {
        if (page == CACHING || page == ALL) {
            caching(out, pc, lu);
        }
        if (page == CONTROL || page == ALL) {
            control(out, pc);
        }
        if (page == INFORMATIONAL_EXCEPTIONS || page == ALL) {
            informationalExceptions(out, pc);
        }
    }

    private static void caching(ByteBuf out, int pc, LogicalUnit lu) {
        out.writeByte(CACHING);              // PS=0: not savable
        out.writeByte(CACHING_LENGTH);
        boolean wce = switch (pc) {
            case PC_CHANGEABLE -> true;      // a mask: WCE may be changed
            case PC_DEFAULT -> lu.writeCacheDefault();
            default -> lu.writeCacheEnabled();
        };
        out.writeByte(wce ? WCE : 0);
        out.writeZero(CACHING_LENGTH - 1);
    }

    private static void control(ByteBuf out, int pc) {
        out.writeByte(CONTROL);
        out.writeByte(CONTROL_LENGTH);
        if (pc == PC_CHANGEABLE) {
            out.writeZero(CONTROL_LENGTH);
            return;
        }
        out.writeByte(0x00);                 // TST=0, TMF_ONLY=0, D_SENSE=0: fixed-format sense
        out.writeByte(0x10);                 // queue algorithm modifier 1: unrestricted reordering
        out.writeByte(0x00);                 // SWP=0
        out.writeByte(0x00);
        out.writeShort(0x0000);              // obsolete
        out.writeShort(0xFFFF);              // busy timeout period: unlimited
        out.writeShort(0x0000);              // extended self-test completion time
    }

    private static void informationalExceptions(ByteBuf out, int pc) {
        out.writeByte(INFORMATIONAL_EXCEPTIONS);
        out.writeByte(IEC_LENGTH);
        out.writeZero(IEC_LENGTH);           // no exception reporting (MRIE=0)
    }

    /**
     * Applies a MODE SELECT parameter list's pages (after header and block descriptors). Only WCE may
     * change; any other difference from the current values is an invalid field. Nothing is changed
     * unless every page is valid.
     */
    static SelectResult select(ByteBuf pages, LogicalUnit lu) {
        Boolean newWce = null;
        while (pages.isReadable()) {
            if (pages.readableBytes() < 2) {
                return SelectResult.error(SenseCode.PARAMETER_LIST_LENGTH_ERROR);
            }
            int page = pages.getUnsignedByte(pages.readerIndex()) & 0x3F;
            boolean subpage = (pages.getUnsignedByte(pages.readerIndex()) & 0x40) != 0;
            int length = pages.getUnsignedByte(pages.readerIndex() + 1);
            if (subpage || pages.readableBytes() < 2 + length) {
                return SelectResult.error(subpage ? SenseCode.INVALID_FIELD_IN_PARAMETER_LIST : SenseCode.PARAMETER_LIST_LENGTH_ERROR);
            }
            ByteBuf body = pages.slice(pages.readerIndex() + 2, length);
            pages.skipBytes(2 + length);
            if (!supports(page) || page == ALL) {
                return SelectResult.error(SenseCode.INVALID_FIELD_IN_PARAMETER_LIST);
            }
            ByteBuf current = Unpooled.buffer(32);
            write(current, page, PC_CURRENT, lu);
            if (current.getUnsignedByte(1) != length) {
                return SelectResult.error(SenseCode.INVALID_FIELD_IN_PARAMETER_LIST);
            }
            for (int i = 0; i < length; i++) {
                int have = current.getUnsignedByte(2 + i);
                int want = body.getUnsignedByte(i);
                int changeable = page == CACHING && i == 0 ? WCE : 0;
                if (((have ^ want) & ~changeable) != 0) {
                    return SelectResult.error(SenseCode.INVALID_FIELD_IN_PARAMETER_LIST);
                }
            }
            if (page == CACHING) {
                newWce = (body.getUnsignedByte(0) & WCE) != 0;
            }
        }
        return new SelectResult(null, newWce != null && newWce != lu.writeCacheEnabled() ? newWce : null);
    }

    /**
     * The outcome of MODE SELECT: an error to report, or the new WCE value if it changes (null if
     * nothing changes). The caller applies it (turning the write cache off flushes it first).
     */
    record SelectResult(SenseCode error, Boolean newWce) {
        static SelectResult error(SenseCode code) {
            return new SelectResult(code, null);
        }
    }
}
