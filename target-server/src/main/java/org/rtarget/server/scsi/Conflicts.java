package org.rtarget.server.scsi;

/**
 * Which reservations a command conflicts with, as one bit mask per opcode table row (gotgt's
 * {@code PR_*} masks). A set bit means: a command from an I_T nexus in that situation ends in
 * RESERVATION CONFLICT. The persistent reservation bits are the columns of the SPC-4 and SBC-3
 * tables of commands allowed in the presence of various reservations. The holder is never refused,
 * nor, under a registrants only or all registrants reservation, any registered I_T nexus: no row of
 * those tables refuses them.
 */
final class Conflicts {
    /** Write Exclusive, from an I_T nexus other than the holder. */
    static final int WRITE_EXCLUSIVE = 1;
    /** Exclusive Access, from an I_T nexus other than the holder. */
    static final int EXCLUSIVE_ACCESS = 1 << 1;
    /** Write Exclusive – Registrants Only or All Registrants, from an unregistered I_T nexus. */
    static final int WRITE_EXCLUSIVE_UNREGISTERED = 1 << 2;
    /** Exclusive Access – Registrants Only or All Registrants, from an unregistered I_T nexus. */
    static final int EXCLUSIVE_ACCESS_UNREGISTERED = 1 << 3;
    /** An SPC-2 RESERVE held by another I_T nexus. */
    static final int SPC2_OTHER = 1 << 4;
    /** Any SPC-2 RESERVE, even the sender's own (SPC-2 5.5.1: then every PERSISTENT RESERVE command conflicts). */
    static final int SPC2_ANY = 1 << 5;

    /** Never refused: INQUIRY, REPORT LUNS, REQUEST SENSE, READ CAPACITY, RELEASE. */
    static final int NONE = 0;
    /** Reads the medium: refused by the Exclusive Access types only ("Allowed" under Write Exclusive). */
    static final int READ = EXCLUSIVE_ACCESS | EXCLUSIVE_ACCESS_UNREGISTERED | SPC2_OTHER;
    /** Changes the medium or the unit's state: refused by every reservation type. */
    static final int WRITE = WRITE_EXCLUSIVE | EXCLUSIVE_ACCESS | WRITE_EXCLUSIVE_UNREGISTERED
            | EXCLUSIVE_ACCESS_UNREGISTERED | SPC2_OTHER;
    /** RESERVE(6)/(10): only another SPC-2 holder refuses it here; the command checks persistent reservations itself. */
    static final int SPC2_RESERVE = SPC2_OTHER;
    /** PERSISTENT RESERVE IN/OUT: allowed under any persistent reservation, refused under any SPC-2 one. */
    static final int PERSISTENT_RESERVE = SPC2_ANY;

    private Conflicts() {
    }
}
