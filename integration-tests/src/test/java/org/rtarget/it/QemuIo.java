package org.rtarget.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A data round trip through QEMU's iSCSI block driver (libiscsi inside qemu-io): writes of distinct
 * byte patterns to random non-overlapping regions, then reads that verify every one of them.
 */
final class QemuIo {
    /** One written region and the byte that fills it. */
    record Region(long offset, int length, int pattern) {
    }

    private QemuIo() {
    }

    /**
     * Regions totalling at least {@code minTotal} bytes on a disk of {@code diskSize} bytes: one per
     * slot of the disk, at a random 512-byte-aligned offset and size within the slot.
     */
    static List<Region> randomRegions(long seed, long diskSize, int slots, int maxLength, long minTotal) {
        Random random = new Random(seed);
        long slot = diskSize / slots;
        List<Region> regions = new ArrayList<>();
        long total = 0;
        for (int i = 0; i < slots; i++) {
            int length = 512 * (1 + random.nextInt(maxLength / 512));
            long room = slot - length;
            long offset = i * slot + 512L * (long) random.nextInt((int) (room / 512) + 1);
            regions.add(new Region(offset, length, 1 + (i * 37) % 254));
            total += length;
        }
        assertThat(total).as("bytes covered by the random regions").isGreaterThanOrEqualTo(minTotal);
        return regions;
    }

    /** qemu-io commands that write every region, flush, then read every region back. */
    static List<String> writeThenVerify(List<Region> regions) {
        List<String> cmds = new ArrayList<>();
        for (Region r : regions) {
            cmds.add("-c");
            cmds.add("write -P " + r.pattern + " " + r.offset + " " + r.length);
        }
        cmds.add("-c");
        cmds.add("flush");
        for (Region r : regions) {
            cmds.add("-c");
            cmds.add("read -P " + r.pattern + " " + r.offset + " " + r.length);
        }
        return cmds;
    }

    /** Runs qemu-io on {@code target} (URL or --image-opts string) and checks every op succeeded. */
    static String run(List<String> openArgs, List<String> commands, int expectedWrites, int expectedReads)
            throws Exception {
        List<String> cmd = new ArrayList<>(List.of("qemu-io"));
        cmd.addAll(openArgs);
        cmd.addAll(commands);
        Tools.Result r = Tools.run(600, cmd);
        String out = r.output();
        assertThat(out).as("qemu-io output").doesNotContainIgnoringCase("Pattern verification failed")
                .doesNotContainIgnoringCase("error").doesNotContainIgnoringCase("failed");
        assertThat(r.exitCode()).as("qemu-io exit status\n" + tail(out)).isZero();
        assertThat(count(out, "\nwrote ") + (out.startsWith("wrote ") ? 1 : 0)).isEqualTo(expectedWrites);
        assertThat(count(out, "\nread ") + (out.startsWith("read ") ? 1 : 0)).isEqualTo(expectedReads);
        return out;
    }

    private static int count(String text, String needle) {
        int n = 0;
        for (int i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + 1)) {
            n++;
        }
        return n;
    }

    private static String tail(String s) {
        return s.length() > 2000 ? s.substring(s.length() - 2000) : s;
    }
}
