package org.rtarget.server.scsi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.rtarget.server.scsi.PersistentReserveOps.CLEAR;
import static org.rtarget.server.scsi.PersistentReserveOps.PREEMPT;
import static org.rtarget.server.scsi.PersistentReserveOps.READ_FULL_STATUS;
import static org.rtarget.server.scsi.PersistentReserveOps.READ_KEYS;
import static org.rtarget.server.scsi.PersistentReserveOps.READ_RESERVATION;
import static org.rtarget.server.scsi.PersistentReserveOps.REGISTER;
import static org.rtarget.server.scsi.PersistentReserveOps.REGISTER_AND_IGNORE_EXISTING_KEY;
import static org.rtarget.server.scsi.PersistentReserveOps.RELEASE;
import static org.rtarget.server.scsi.PersistentReserveOps.REPORT_CAPABILITIES;
import static org.rtarget.server.scsi.PersistentReserveOps.RESERVE;
import static org.rtarget.server.scsi.Reservations.EXCLUSIVE_ACCESS;
import static org.rtarget.server.scsi.Reservations.EXCLUSIVE_ACCESS_ALL_REGISTRANTS;
import static org.rtarget.server.scsi.Reservations.WRITE_EXCLUSIVE;
import static org.rtarget.server.scsi.Reservations.WRITE_EXCLUSIVE_REGISTRANTS_ONLY;
import static org.rtarget.server.scsi.ScsiTestBed.block;
import static org.rtarget.server.scsi.ScsiTestBed.inquiry;
import static org.rtarget.server.scsi.ScsiTestBed.parameters;
import static org.rtarget.server.scsi.ScsiTestBed.persistentReserveIn;
import static org.rtarget.server.scsi.ScsiTestBed.persistentReserveOut;
import static org.rtarget.server.scsi.ScsiTestBed.read10;
import static org.rtarget.server.scsi.ScsiTestBed.testUnitReady;
import static org.rtarget.server.scsi.ScsiTestBed.write10;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.rtarget.server.scsi.ScsiTestBed.Result;

/** SPC-4 persistent reservations through ScsiCore, with two initiators. */
class PersistentReservationTest {
    private static final long KEY_A = 0xA1A1A1A1L;
    private static final long KEY_B = 0xB2B2B2B2L;

    private final ScsiTestBed bed = new ScsiTestBed();
    private final ItlNexus a = bed.login("iqn.2026-01.test:a", 0x1);
    private final ItlNexus b = bed.login("iqn.2026-01.test:b", 0x2);

    private Result out(ItlNexus n, int action, int type, long key, long serviceActionKey) {
        return bed.run(n, persistentReserveOut(action, type), parameters(key, serviceActionKey, 0));
    }

    private Result in(ItlNexus n, int action) {
        return bed.run(n, persistentReserveIn(action, 4096));
    }

    private void assertGood(Result r) {
        assertThat(r.status()).as("status (sense %s)", r.senseCode()).isEqualTo(ScsiStatus.GOOD);
    }

    private void assertConflict(Result r) {
        assertThat(r.status()).isEqualTo(ScsiStatus.RESERVATION_CONFLICT);
        assertThat(r.sense()).isNull();
    }

    private void assertCheck(Result r, String sense) {
        assertThat(r.status()).isEqualTo(ScsiStatus.CHECK_CONDITION);
        assertThat(r.senseCode()).isEqualTo(sense);
    }

    @Test
    void registrationsShowInReadKeysWithTheGeneration() {
        assertGood(out(a, REGISTER, 0, 0, KEY_A));
        assertGood(out(b, REGISTER_AND_IGNORE_EXISTING_KEY, 0, 0x1234, KEY_B));

        Result keys = in(a, READ_KEYS);
        assertGood(keys);
        assertThat(keys.u32(0)).as("PRgeneration").isEqualTo(2);
        assertThat(keys.u32(4)).as("additional length").isEqualTo(16);
        assertThat(keys.u64(8)).isEqualTo(KEY_A);
        assertThat(keys.u64(16)).isEqualTo(KEY_B);
        assertThat(keys.data()).hasSize(24);
    }

    @Test
    void readKeysIsCutToTheAllocationLengthButKeepsItsLength() {
        assertGood(out(a, REGISTER, 0, 0, KEY_A));
        Result keys = bed.run(a, persistentReserveIn(READ_KEYS, 8));
        assertThat(keys.data()).hasSize(8);
        assertThat(keys.u32(4)).isEqualTo(8);
    }

    @Test
    void registerNeedsTheCurrentKey() {
        assertConflict(out(a, REGISTER, 0, 0x99, KEY_A)); // unregistered: the key must be zero
        assertGood(out(a, REGISTER, 0, 0, KEY_A));
        assertConflict(out(a, REGISTER, 0, 0x99, 0x77));
        assertGood(out(a, REGISTER, 0, KEY_A, 0x77));     // changes the key
        assertGood(out(a, REGISTER, 0, 0x77, 0));         // unregisters
        assertThat(in(a, READ_KEYS).u32(4)).isZero();
    }

    @Test
    void writeExclusiveLetsOthersReadButNotWrite() {
        assertGood(out(a, REGISTER, 0, 0, KEY_A));
        assertGood(out(a, RESERVE, WRITE_EXCLUSIVE, KEY_A, 0));

        assertGood(bed.run(a, write10(1, 1), block(7)));
        assertGood(bed.run(b, read10(1, 1)));
        assertConflict(bed.run(b, write10(1, 1), block(9)));
        assertGood(bed.run(b, testUnitReady()));
        assertThat(bed.run(a, read10(1, 1)).data()).isEqualTo(block(7));

        Result reservation = in(b, READ_RESERVATION);
        assertThat(reservation.u32(4)).isEqualTo(16);
        assertThat(reservation.u64(8)).isEqualTo(KEY_A);
        assertThat(reservation.u8(21)).as("scope and type").isEqualTo(WRITE_EXCLUSIVE);
    }

    @Test
    void exclusiveAccessStopsReadsButNeverInquiry() {
        assertGood(out(a, REGISTER, 0, 0, KEY_A));
        assertGood(out(a, RESERVE, EXCLUSIVE_ACCESS, KEY_A, 0));

        assertConflict(bed.run(b, read10(0, 1)));
        assertConflict(bed.run(b, testUnitReady()));
        assertGood(bed.run(b, inquiry()));
        assertGood(bed.run(b, new byte[] {0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0}));                   // READ CAPACITY(10)
        assertGood(bed.run(b, new byte[] {(byte) 0xA0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}));       // REPORT LUNS
        assertGood(bed.run(b, new byte[] {0x03, 0, 0, 0, 18, 0}));                              // REQUEST SENSE
        assertGood(bed.run(b, ScsiTestBed.reportSupportedOpcodes(0, false, 0, 0)));
    }

    @Test
    void exclusiveAccessRefusesRegisteredInitiatorsToo() {
        assertGood(out(a, REGISTER, 0, 0, KEY_A));
        assertGood(out(b, REGISTER, 0, 0, KEY_B));
        assertGood(out(a, RESERVE, EXCLUSIVE_ACCESS, KEY_A, 0));
        assertConflict(bed.run(b, testUnitReady()));
        assertGood(bed.run(a, testUnitReady()));
        assertGood(out(a, RELEASE, EXCLUSIVE_ACCESS, KEY_A, 0));
        assertGood(bed.run(b, testUnitReady())); // no unit attention: Exclusive Access is not shared
    }

    @Test
    void registrantsOnlyLetsRegisteredInitiatorsWrite() {
        assertGood(out(a, REGISTER, 0, 0, KEY_A));
        assertGood(out(a, RESERVE, WRITE_EXCLUSIVE_REGISTRANTS_ONLY, KEY_A, 0));
        assertConflict(bed.run(b, write10(2, 1), block(1)));
        assertGood(out(b, REGISTER, 0, 0, KEY_B));
        assertGood(bed.run(b, write10(2, 1), block(1)));
        // Another initiator's RESERVE conflicts, even as a registrant.
        assertConflict(out(b, RESERVE, WRITE_EXCLUSIVE_REGISTRANTS_ONLY, KEY_B, 0));
    }

    @Test
    void allRegistrantsReportsKeyZeroAndSurvivesTheReserverLeaving() {
        assertGood(out(a, REGISTER, 0, 0, KEY_A));
        assertGood(out(b, REGISTER, 0, 0, KEY_B));
        assertGood(out(a, RESERVE, EXCLUSIVE_ACCESS_ALL_REGISTRANTS, KEY_A, 0));
        assertThat(in(b, READ_RESERVATION).u64(8)).isZero();
        assertGood(out(a, REGISTER, 0, KEY_A, 0)); // a unregisters: b still holds
        assertThat(in(b, READ_RESERVATION).u32(4)).isEqualTo(16);
        assertConflict(bed.run(a, read10(0, 1)));
        assertGood(bed.run(b, read10(0, 1)));
    }

    @Test
    void preemptTakesTheReservationAndTellsTheLoser() {
        assertGood(out(a, REGISTER, 0, 0, KEY_A));
        assertGood(out(a, RESERVE, WRITE_EXCLUSIVE, KEY_A, 0));
        assertGood(out(b, REGISTER, 0, 0, KEY_B));
        long generation = in(a, READ_KEYS).u32(0);

        assertGood(out(b, PREEMPT, EXCLUSIVE_ACCESS, KEY_B, KEY_A));

        assertCheck(bed.run(a, testUnitReady()), "6/2A/05"); // REGISTRATIONS PREEMPTED
        assertConflict(bed.run(a, read10(0, 1)));
        Result keys = in(b, READ_KEYS);
        assertThat(keys.u32(0)).isEqualTo(generation + 1);
        assertThat(keys.u32(4)).isEqualTo(8);
        assertThat(keys.u64(8)).isEqualTo(KEY_B);
        Result reservation = in(b, READ_RESERVATION);
        assertThat(reservation.u64(8)).isEqualTo(KEY_B);
        assertThat(reservation.u8(21)).isEqualTo(EXCLUSIVE_ACCESS);
    }

    @Test
    void preemptWithoutReservationRemovesRegistrations() {
        assertGood(out(a, REGISTER, 0, 0, KEY_A));
        assertGood(out(b, REGISTER, 0, 0, KEY_B));
        assertGood(out(b, PREEMPT, EXCLUSIVE_ACCESS, KEY_B, KEY_A));
        assertThat(in(b, READ_KEYS).u32(4)).isEqualTo(8);
        assertThat(in(b, READ_RESERVATION).u32(4)).isZero();
        assertCheck(out(b, PREEMPT, EXCLUSIVE_ACCESS, KEY_B, 0), "5/26/00");
        assertConflict(out(b, PREEMPT, EXCLUSIVE_ACCESS, KEY_B, 0x5555));
    }

    @Test
    void releaseChecksTheTypeAndTellsRegistrants() {
        assertGood(out(a, REGISTER, 0, 0, KEY_A));
        assertGood(out(b, REGISTER, 0, 0, KEY_B));
        assertGood(out(a, RESERVE, WRITE_EXCLUSIVE_REGISTRANTS_ONLY, KEY_A, 0));
        assertGood(out(b, RELEASE, WRITE_EXCLUSIVE_REGISTRANTS_ONLY, KEY_B, 0)); // not the holder: nothing
        assertThat(in(a, READ_RESERVATION).u32(4)).isEqualTo(16);
        assertCheck(out(a, RELEASE, WRITE_EXCLUSIVE, KEY_A, 0), "5/26/04");
        assertGood(out(a, RELEASE, WRITE_EXCLUSIVE_REGISTRANTS_ONLY, KEY_A, 0));
        assertThat(in(a, READ_RESERVATION).u32(4)).isZero();
        assertCheck(bed.run(b, testUnitReady()), "6/2A/04"); // RESERVATIONS RELEASED
        assertGood(bed.run(a, testUnitReady()));
    }

    @Test
    void clearRemovesEverythingAndTellsTheOthers() {
        assertGood(out(a, REGISTER, 0, 0, KEY_A));
        assertGood(out(b, REGISTER, 0, 0, KEY_B));
        assertGood(out(a, RESERVE, EXCLUSIVE_ACCESS, KEY_A, 0));
        assertConflict(out(b, CLEAR, 0, KEY_A, 0)); // b must name its own key
        assertGood(out(b, CLEAR, 0, KEY_B, 0));
        assertCheck(bed.run(a, testUnitReady()), "6/2A/03"); // RESERVATIONS PREEMPTED
        assertThat(in(a, READ_KEYS).u32(4)).isZero();
        assertThat(in(a, READ_RESERVATION).u32(4)).isZero();
        assertGood(bed.run(a, write10(0, 1), block(3)));
    }

    @Test
    void unsupportedFeaturesAreRefusedAndReportedSo() {
        int specIpt = 0x08;
        int allTgPt = 0x04;
        int aptpl = 0x01;
        for (int flag : new int[] {specIpt, allTgPt, aptpl}) {
            Result r = bed.run(a, persistentReserveOut(REGISTER, 0), parameters(0, KEY_A, flag));
            assertCheck(r, "5/26/00");
        }
        assertCheck(bed.run(a, persistentReserveOut(0x07, 0), parameters(0, KEY_A, 0)), "5/24/00"); // REGISTER AND MOVE
        assertCheck(bed.run(a, persistentReserveIn(0x04, 4096)), "5/24/00");

        Result caps = in(a, REPORT_CAPABILITIES);
        assertThat(caps.u16(0)).isEqualTo(8);
        assertThat(caps.u8(2)).as("CRH set; SIP_C, ATP_C, PTPL_C clear").isEqualTo(0x10);
        assertThat(caps.u8(3)).as("TMV set; PTPL_A clear").isEqualTo(0x80);
        assertThat(caps.u16(4)).as("every type").isEqualTo(0xEA01);
    }

    @Test
    void aRegistrationBelongsToThePortAndOutlivesTheSession() {
        assertGood(out(a, REGISTER, 0, 0, KEY_A));
        bed.logout(a);
        ItlNexus again = bed.login("iqn.2026-01.test:a", 0x1);
        assertThat(in(again, READ_KEYS).u64(8)).isEqualTo(KEY_A);
        assertGood(out(again, RESERVE, WRITE_EXCLUSIVE, KEY_A, 0));
        // Same name, another ISID: another initiator port, not registered.
        ItlNexus otherPort = bed.login("iqn.2026-01.test:a", 0x2);
        assertConflict(bed.run(otherPort, write10(0, 1), block(0)));
        assertConflict(out(otherPort, RESERVE, WRITE_EXCLUSIVE, KEY_A, 0));
    }

    @Test
    void readFullStatusNamesEachPortAndTheHolder() {
        assertGood(out(a, REGISTER, 0, 0, KEY_A));
        assertGood(out(b, REGISTER, 0, 0, KEY_B));
        assertGood(out(b, RESERVE, WRITE_EXCLUSIVE, KEY_B, 0));
        Result status = in(a, READ_FULL_STATUS);
        assertThat(status.u32(4)).isEqualTo(status.data().length - 8);
        int at = 8;
        assertThat(status.u64(at)).isEqualTo(KEY_A);
        assertThat(status.u8(at + 12)).as("R_HOLDER").isZero();
        long idLength = status.u32(at + 20);
        assertThat(idLength % 4).isZero();
        assertThat(status.u8(at + 24)).as("iSCSI TransportID, name and ISID").isEqualTo(0x45);
        String name = new String(status.data(), at + 28, (int) idLength - 4, StandardCharsets.UTF_8);
        assertThat(name).startsWith("iqn.2026-01.test:a,i,0x000000000001\0");
        at += 24 + (int) idLength;
        assertThat(status.u64(at)).isEqualTo(KEY_B);
        assertThat(status.u8(at + 12)).isEqualTo(0x01);
        assertThat(status.u8(at + 13)).isEqualTo(WRITE_EXCLUSIVE);
    }

    @Test
    void initiatorsOnManyThreadsLeaveAConsistentState() throws Exception {
        int threads = 4;
        List<Thread> workers = new ArrayList<>();
        List<Throwable> failures = new CopyOnWriteArrayList<>();
        for (int t = 0; t < threads; t++) {
            ItlNexus n = bed.login("iqn.2026-01.test:thread", 0x100 + t);
            long key = 0x1000 + t;
            workers.add(Thread.ofPlatform().start(() -> {
                try {
                    for (int i = 0; i < 200; i++) {
                        assertGood(out(n, REGISTER, 0, 0, key));
                        Result reserve = out(n, RESERVE, WRITE_EXCLUSIVE, key, 0);
                        assertThat(reserve.status()).isIn(ScsiStatus.GOOD, ScsiStatus.RESERVATION_CONFLICT);
                        Result write = bed.run(n, write10(i, 1), block(i));
                        assertThat(write.status()).isIn(ScsiStatus.GOOD, ScsiStatus.RESERVATION_CONFLICT);
                        assertGood(out(n, RELEASE, WRITE_EXCLUSIVE, key, 0));
                        assertGood(out(n, REGISTER, 0, key, 0));
                    }
                } catch (Throwable e) {
                    failures.add(e);
                }
            }));
        }
        for (Thread w : workers) {
            w.join();
        }
        assertThat(failures).isEmpty();
        assertThat(in(a, READ_KEYS).u32(4)).isZero();
        assertThat(in(a, READ_RESERVATION).u32(4)).isZero();
        assertThat(in(a, READ_KEYS).u32(0)).as("two changes per round").isEqualTo(threads * 200 * 2);
    }

    @Test
    void anUnreservedUnitNeverConflicts() {
        assertGood(out(a, REGISTER, 0, 0, KEY_A)); // registered, not reserved
        assertGood(bed.run(b, write10(0, 1), block(5)));
        assertGood(bed.run(b, read10(0, 1)));
    }
}
