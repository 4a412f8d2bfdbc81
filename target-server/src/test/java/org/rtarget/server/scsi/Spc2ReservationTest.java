package org.rtarget.server.scsi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.rtarget.server.scsi.ScsiTestBed.block;
import static org.rtarget.server.scsi.ScsiTestBed.inquiry;
import static org.rtarget.server.scsi.ScsiTestBed.parameters;
import static org.rtarget.server.scsi.ScsiTestBed.persistentReserveIn;
import static org.rtarget.server.scsi.ScsiTestBed.persistentReserveOut;
import static org.rtarget.server.scsi.ScsiTestBed.read10;
import static org.rtarget.server.scsi.ScsiTestBed.release6;
import static org.rtarget.server.scsi.ScsiTestBed.reserve6;
import static org.rtarget.server.scsi.ScsiTestBed.write10;

import org.junit.jupiter.api.Test;
import org.rtarget.server.scsi.ScsiTestBed.Result;

/** SPC-2 RESERVE(6)/RELEASE(6), and how they meet persistent reservations. */
class Spc2ReservationTest {
    private final ScsiTestBed bed = new ScsiTestBed();
    private final ItlNexus a = bed.login("iqn.2026-01.test:a", 0x1);
    private final ItlNexus b = bed.login("iqn.2026-01.test:b", 0x2);

    private static void assertStatus(Result r, int status) {
        assertThat(r.status()).as("status (sense %s)", r.senseCode()).isEqualTo(status);
    }

    @Test
    void theHolderHasTheUnitAndOthersConflict() {
        assertStatus(bed.run(a, reserve6()), ScsiStatus.GOOD);
        assertStatus(bed.run(a, reserve6()), ScsiStatus.GOOD); // again: still ours
        assertStatus(bed.run(a, write10(0, 1), block(1)), ScsiStatus.GOOD);

        assertStatus(bed.run(b, reserve6()), ScsiStatus.RESERVATION_CONFLICT);
        assertStatus(bed.run(b, read10(0, 1)), ScsiStatus.RESERVATION_CONFLICT);
        assertStatus(bed.run(b, new byte[] {0x1A, 0, 0x3F, 0, (byte) 255, 0}), ScsiStatus.RESERVATION_CONFLICT);
        assertStatus(bed.run(b, inquiry()), ScsiStatus.GOOD);
        assertStatus(bed.run(b, release6()), ScsiStatus.GOOD); // a no-op from another initiator
        assertStatus(bed.run(b, read10(0, 1)), ScsiStatus.RESERVATION_CONFLICT);

        assertStatus(bed.run(a, release6()), ScsiStatus.GOOD);
        assertStatus(bed.run(b, reserve6()), ScsiStatus.GOOD);
    }

    @Test
    void logoutAndLunResetRelease() {
        assertStatus(bed.run(a, reserve6()), ScsiStatus.GOOD);
        bed.logout(a);
        assertStatus(bed.run(b, reserve6()), ScsiStatus.GOOD);
        ItlNexus again = bed.login("iqn.2026-01.test:a", 0x1);
        assertStatus(bed.run(again, read10(0, 1)), ScsiStatus.RESERVATION_CONFLICT);
        bed.lu.reset(again);
        assertStatus(bed.run(again, read10(0, 1)), ScsiStatus.GOOD);
    }

    @Test
    void persistentReserveCommandsConflictWhileReserved() {
        assertStatus(bed.run(a, reserve6()), ScsiStatus.GOOD);
        assertStatus(bed.run(a, persistentReserveIn(0, 4096)), ScsiStatus.RESERVATION_CONFLICT);
        assertStatus(bed.run(a, persistentReserveOut(0, 0), parameters(0, 1, 0)), ScsiStatus.RESERVATION_CONFLICT);
    }

    @Test
    void persistentRegistrationsTakePrecedence() {
        assertStatus(bed.run(a, persistentReserveOut(0, 0), parameters(0, 0xA, 0)), ScsiStatus.GOOD);
        assertStatus(bed.run(a, persistentReserveOut(1, 1), parameters(0xA, 0, 0)), ScsiStatus.GOOD);
        assertStatus(bed.run(b, reserve6()), ScsiStatus.RESERVATION_CONFLICT);
        assertStatus(bed.run(b, release6()), ScsiStatus.RESERVATION_CONFLICT);
        // The persistent holder: GOOD, and nothing changes.
        assertStatus(bed.run(a, reserve6()), ScsiStatus.GOOD);
        assertStatus(bed.run(a, release6()), ScsiStatus.GOOD);
        assertStatus(bed.run(b, read10(0, 1)), ScsiStatus.GOOD);          // Write Exclusive still
        assertStatus(bed.run(b, write10(0, 1), block(0)), ScsiStatus.RESERVATION_CONFLICT);
    }

    @Test
    void thirdPartyReservationsAreRefused() {
        Result r = bed.run(a, new byte[] {0x16, 0x10, 0, 0, 0, 0});
        assertThat(r.senseCode()).isEqualTo("5/24/00");
    }
}
