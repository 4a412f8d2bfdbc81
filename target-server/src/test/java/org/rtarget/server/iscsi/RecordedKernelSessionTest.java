package org.rtarget.server.iscsi;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.rtarget.server.iscsi.Captures.CapturedPdu;

/**
 * The Linux kernel initiator's whole recorded session with header and data digests
 * (kernel-open-iscsi-digests c2), replayed PDU by PDU into our target: login, the SCSI scan, a 64 KiB
 * O_DIRECT write (8K immediate data, then Data-Out solicited by an R2T), its read-back, NOP-Outs,
 * SYNCHRONIZE CACHE and Logout. The recorded Data-Out answer tgt's R2T, so their Target Transfer
 * Tag (and header digest) is rewritten to the one our R2T gave, as the kernel would have done.
 */
class RecordedKernelSessionTest {
    /** What the guest script wrote: {@code yes 'kernel-initiator capture pattern 0123456789abcdef' | head -c 65536}. */
    private static final byte[] WRITTEN = pattern();

    private final TestTarget target = new TestTarget();

    @AfterEach
    void close() {
        target.close();
    }

    private static byte[] pattern() {
        byte[] line = "kernel-initiator capture pattern 0123456789abcdef\n".getBytes(StandardCharsets.US_ASCII);
        byte[] out = new byte[65536];
        for (int i = 0; i < out.length; i++) {
            out[i] = line[i % line.length];
        }
        return out;
    }

    private static boolean endsTask(WirePdu r) {
        return switch (r.opcode()) {
            case TestPdus.SCSI_RESPONSE, TestPdus.NOP_IN, TestPdus.LOGOUT_RESPONSE -> true;
            case TestPdus.DATA_IN -> (r.flags() & 0x01) != 0;
            default -> false;
        };
    }

    @Test
    void theKernelsSessionWithDigestsIsServedAndItsWriteLandsOnTheDisk() {
        List<CapturedPdu> c2 = Captures.connection(Captures.initiatorPdus("kernel-open-iscsi-digests"), "c2");
        TestInitiator ini = target.connect();
        ini.send(Captures.withPairs(c2.getFirst().raw(), l -> Captures.replace(l, "TargetName", TestTarget.IQN)));
        WirePdu login = ini.receiveOne();
        assertThat(login.loginStatus()).isZero();
        assertThat(login.keys()).contains("HeaderDigest=CRC32C", "DataDigest=CRC32C");
        ini.headerDigest = true; // from here on every PDU of ours must carry both digests, checked on receipt
        ini.dataDigest = true;

        Map<Integer, List<WirePdu>> answers = new LinkedHashMap<>();
        int ourTtt = TestPdus.RESERVED;
        for (CapturedPdu p : c2.subList(1, c2.size())) {
            byte[] raw = p.raw().clone();
            if (p.opcode() == TestPdus.DATA_OUT) {
                assertThat(ourTtt).as("an R2T came before %s", p).isNotEqualTo(TestPdus.RESERVED);
                ByteBuffer.wrap(raw).putInt(20, ourTtt);
                Crc.put(raw, 48, Crc.crc32c(raw, 0, 48));
            }
            ini.send(raw);
            for (WirePdu r : ini.received()) {
                assertThat(r.opcode()).as("reply to %s", p).isNotEqualTo(TestPdus.REJECT);
                answers.computeIfAbsent(r.itt(), k -> new ArrayList<>()).add(r);
                if (r.opcode() == TestPdus.R2T) {
                    ourTtt = r.ttt();
                }
            }
        }

        // Every command, NOP-Out and the Logout was answered, exactly once.
        List<CapturedPdu> tasks = c2.stream()
                .filter(p -> p.opcode() != TestPdus.LOGIN_REQUEST && p.opcode() != TestPdus.DATA_OUT).toList();
        assertThat(tasks).hasSize(67 + 2 + 1);
        for (CapturedPdu p : tasks) {
            assertThat(answers.getOrDefault(p.itt(), List.of())).as("answers to %s", p)
                    .filteredOn(RecordedKernelSessionTest::endsTask).hasSize(1);
        }

        // The write: GOOD, and the bytes are on LUN 1.
        CapturedPdu write = c2.stream().filter(p -> p.n() == 135).findFirst().orElseThrow();
        WirePdu writeStatus = answers.get(write.itt()).getLast();
        assertThat(writeStatus.opcode()).isEqualTo(TestPdus.SCSI_RESPONSE);
        assertThat(writeStatus.byte3()).as("status of the WRITE(10)").isZero();
        assertThat(TestTarget.read(target.device1, 0, WRITTEN.length)).isEqualTo(WRITTEN);

        // The read-back (PDU 145, READ(10) of the same 64 KiB) returned them.
        CapturedPdu readBack = c2.stream().filter(p -> p.n() == 145).findFirst().orElseThrow();
        ByteArrayOutputStream read = new ByteArrayOutputStream();
        answers.get(readBack.itt()).forEach(r -> read.writeBytes(r.data()));
        assertThat(read.toByteArray()).isEqualTo(WRITTEN);

        ini.channel.runPendingTasks();
        assertThat(ini.channel.isOpen()).as("closed after the Logout Response").isFalse();
    }
}
