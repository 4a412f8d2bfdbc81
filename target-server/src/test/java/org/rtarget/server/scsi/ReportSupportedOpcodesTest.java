package org.rtarget.server.scsi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.rtarget.server.scsi.ScsiTestBed.reportSupportedOpcodes;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.rtarget.server.scsi.ScsiTestBed.Result;

/** REPORT SUPPORTED OPERATION CODES answers from the opcode table. */
class ReportSupportedOpcodesTest {
    private final ScsiTestBed bed = new ScsiTestBed();
    private final ItlNexus a = bed.login("iqn.2026-01.test:a", 0x1);

    /** "opcode/service action" for every command the table holds, service actions expanded. */
    private static List<String> tableCommands() {
        List<String> commands = new ArrayList<>();
        for (ScsiOp op : OpcodeTable.all()) {
            if (op.serviceActions().length == 0) {
                commands.add(String.format("%02X", op.opcode()));
            }
            for (int action : op.serviceActions()) {
                commands.add(String.format("%02X/%02X", op.opcode(), action));
            }
        }
        return commands;
    }

    @Test
    void allCommandsListsWhatTheTableHolds() {
        Result r = bed.run(a, reportSupportedOpcodes(0, false, 0, 0));
        assertThat(r.status()).isEqualTo(ScsiStatus.GOOD);
        assertThat(r.u32(0)).isEqualTo(r.data().length - 4);
        List<String> listed = new ArrayList<>();
        for (int at = 4; at < r.data().length; at += 8) {
            boolean servactv = (r.u8(at + 5) & 0x01) != 0;
            assertThat(r.u8(at + 5) & 0x02).as("CTDP without RCTD").isZero();
            int opcode = r.u8(at);
            assertThat(r.u16(at + 6)).as("CDB length of %02X", opcode).isEqualTo(Cdb.length(opcode));
            listed.add(servactv ? String.format("%02X/%02X", opcode, r.u16(at + 2)) : String.format("%02X", opcode));
        }
        assertThat(listed).isEqualTo(tableCommands());
        assertThat(listed).contains("5E/00", "5E/03", "5F/06", "9E/10", "9E/12", "A3/0C", "16", "17", "56", "57", "28",
                "41", "42", "93")
                .doesNotContain("5F/07", "A3/0A");
    }

    @Test
    void timeoutDescriptorsComeWithRctd() {
        Result r = bed.run(a, reportSupportedOpcodes(0, true, 0, 0));
        int count = 0;
        for (int at = 4; at < r.data().length; at += 20) {
            assertThat(r.u8(at + 5) & 0x02).as("CTDP").isEqualTo(0x02);
            assertThat(r.u16(at + 8)).as("timeouts descriptor length").isEqualTo(0x0A);
            count++;
        }
        assertThat(count).isEqualTo(tableCommands().size());
    }

    @Test
    void oneCommandGivesItsUsageMap() {
        Result read10 = bed.run(a, reportSupportedOpcodes(1, false, 0x28, 0));
        assertThat(read10.status()).isEqualTo(ScsiStatus.GOOD);
        assertThat(read10.u8(1) & 0x07).as("SUPPORT: as a standard says").isEqualTo(0x3);
        assertThat(read10.u16(2)).isEqualTo(10);
        assertThat(read10.u8(4)).isEqualTo(0x28);
        assertThat(read10.u8(5) & 0x18).as("DPO and FUA").isEqualTo(0x18);
        assertThat(read10.data()).hasSize(14);

        Result capacity16 = bed.run(a, reportSupportedOpcodes(2, true, 0x9E, 0x10));
        assertThat(capacity16.u8(1)).isEqualTo(0x80 | 0x3);
        assertThat(capacity16.u16(2)).isEqualTo(16);
        assertThat(capacity16.u8(5)).as("the service action in its field").isEqualTo(0x10);
        assertThat(capacity16.data()).hasSize(4 + 16 + 12);

        assertThat(bed.run(a, reportSupportedOpcodes(2, false, 0x9E, 0x12)).u8(1)).as("GET LBA STATUS").isEqualTo(0x3);
        assertThat(bed.run(a, reportSupportedOpcodes(1, false, 0x42, 0)).u8(1)).as("UNMAP").isEqualTo(0x3);
        assertThat(bed.run(a, reportSupportedOpcodes(1, false, 0x89, 0)).u8(1)).as("COMPARE AND WRITE").isEqualTo(0x1);
    }

    @Test
    void optionsMustMatchWhetherTheCommandHasServiceActions() {
        assertThat(bed.run(a, reportSupportedOpcodes(1, false, 0x5E, 0)).senseCode()).isEqualTo("5/24/00");
        assertThat(bed.run(a, reportSupportedOpcodes(2, false, 0x28, 0)).senseCode()).isEqualTo("5/24/00");
        assertThat(bed.run(a, reportSupportedOpcodes(4, false, 0x28, 0)).senseCode()).isEqualTo("5/24/00");
    }

    @Test
    void otherMaintenanceInServiceActionsAreInvalid() {
        byte[] reportTargetPortGroups = reportSupportedOpcodes(0, false, 0, 0);
        reportTargetPortGroups[1] = 0x0A;
        assertThat(bed.run(a, reportTargetPortGroups).senseCode()).isEqualTo("5/24/00");
    }
}
