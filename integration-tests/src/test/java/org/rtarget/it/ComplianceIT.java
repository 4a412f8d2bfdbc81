package org.rtarget.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * libiscsi's compliance suite (iscsi-test-cu) against a memory LUN, scored by ../shared/tools/cu-score.
 * The server must survive it, and the suites this target claims must pass cleanly.
 */
class ComplianceIT {
    static final String IQN = "iqn.2026-11.org.rtarget.test:compliance";
    /** Suites that must pass with no failure and no skip. */
    static final List<String> CLEAN = List.of("iSCSIcmdsn", "iSCSIdatasn", "iSCSIResiduals", "iSCSITMF",
            "Inquiry", "ReadCapacity10", "ReadCapacity16", "Read6", "Read10", "Read12", "Read16", "Write10",
            "Write12", "Write16", "TestUnitReady", "ModeSense6");
    @TempDir
    static Path dir;
    static ServerProcess server;

    @BeforeAll
    static void start() throws Exception {
        Tools.require("iscsi-test-cu", "libiscsi-bin");
        server = ServerProcess.start(dir, """
                server:
                  portals: ["127.0.0.1:0"]
                  admin: "127.0.0.1:0"
                targets:
                  - iqn: %s
                    luns:
                      - {lun: 0, name: compliance-mem, backend: memory, size: 256M}
                      - {lun: 1, name: compliance-file, backend: file, path: compliance.img, size: 256M}
                """.formatted(IQN));
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void complianceSuiteOnAMemoryLun() throws Exception {
        complianceSuite(0);
    }

    @Test
    void complianceSuiteOnAFileLun() throws Exception {
        complianceSuite(1);
    }

    private void complianceSuite(int lun) throws Exception {
        Tools.Result run = Tools.run(1200, "iscsi-test-cu", "-d", "-v", server.url(IQN, lun));
        Path log = dir.resolve("cu-" + lun + ".log");
        Files.writeString(log, run.output());
        String score = Tools.run(60, Tools.shared().resolve("tools/cu-score").toString(), log.toString()).ok()
                .output();
        System.out.println("ComplianceIT LUN " + lun + ": " + score.lines().reduce((a, b) -> b).orElse(""));
        assertThat(server.alive()).as("the server survived the suite").isTrue();
        // It still serves a fresh session afterwards.
        Tools.run(30, "iscsi-inq", server.url(IQN, lun)).ok();

        String json = Tools.run(60, Tools.shared().resolve("tools/cu-score").toString(), log.toString(), "--json")
                .ok().output();
        Map<String, int[]> suites = parseSuites(json);
        assertThat(score).as(score).doesNotContain("FAILED");
        assertThat(score).containsPattern("cu-score: \\d+ clean, \\d+ skipped, 0 failed");
        for (String suite : CLEAN) {
            int[] counts = suites.get(suite);
            assertThat(counts).as("suite %s ran", suite).isNotNull();
            assertThat(counts[0]).as("%s clean passes", suite).isPositive();
            assertThat(counts[1]).as("%s skipped tests", suite).isZero();
            assertThat(counts[2]).as("%s failed tests", suite).isZero();
        }
    }

    /** suite -> {pass, skip, fail} from cu-score's JSON "suites" object. */
    private static Map<String, int[]> parseSuites(String json) {
        Map<String, int[]> suites = new java.util.HashMap<>();
        Matcher m = Pattern.compile("\"(\\w+)\": \\{\\s*\"pass\": (\\d+),\\s*\"skip\": (\\d+),\\s*\"fail\": (\\d+)\\s*}")
                .matcher(json);
        while (m.find()) {
            suites.put(m.group(1), new int[] {Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3)),
                    Integer.parseInt(m.group(4))});
        }
        return suites;
    }
}
