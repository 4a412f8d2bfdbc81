package org.rtarget.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What an operator sees from bin/iscsi-target: usage, config errors with file:line:col, no stack traces. */
class CommandLineIT {
    @TempDir
    Path dir;

    @Test
    void launcherFindsAJdk25OnItsOwn() throws Exception {
        Path launcher = Path.of("..", "bin", "iscsi-target").toAbsolutePath().normalize();
        // A PATH whose java is the machine's default (17 here), and no JAVA_HOME.
        ProcessBuilder pb = new ProcessBuilder(launcher.toString(), "--version").redirectErrorStream(true);
        pb.environment().remove("JAVA_HOME");
        pb.environment().put("PATH", "/usr/local/bin:/usr/bin:/bin");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor()).as(out).isZero();
        assertThat(out).contains("rtarget");
    }

    @Test
    void checkConfigReportsEveryErrorWithFileLineAndColumn() throws Exception {
        Path config = dir.resolve("bad.yaml");
        Files.writeString(config, """
                targets:
                  - iqn: iqn.2026-11.org.example:store1
                    luns:
                      - lun: 0
                        name: vol0
                        backend: memory
                        size: 12XB
                      - lun: 0
                        name: vol1
                        backend: floppy
                """);
        Tools.Result r = Tools.run(60, ServerProcess.cli("check-config", config.toString()));
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.output()).contains(config + ":7:15: targets[0].luns[0].size: \"12XB\" is not a size");
        assertThat(r.output()).containsPattern(java.util.regex.Pattern.quote(config.toString())
                + ":8:\\d+: targets\\[0]\\.luns\\[1]\\.lun: .*0");
        assertThat(r.output()).containsPattern(java.util.regex.Pattern.quote(config.toString())
                + ":10:\\d+: targets\\[0]\\.luns\\[1]\\.backend: .*floppy");
        assertThat(r.output()).doesNotContain("Exception", "\tat ");
    }

    @Test
    void checkConfigAcceptsTheExampleConfiguration() throws Exception {
        Path example = Tools.shared().resolve("docs/config-example.yaml");
        Tools.Result r = Tools.run(60, ServerProcess.cli("check-config", example.toString())).ok();
        assertThat(r.output()).contains("OK (1 target, 4 LUNs)");
    }

    @Test
    void theSystemdUnitPassesSystemdAnalyzeVerify() throws Exception {
        Tools.require("systemd-analyze", "systemd");
        // The unit names Adoptium's JRE path; point it at the JDK running these tests, the rest as shipped.
        String unit = Files.readString(Path.of("..", "docker", "iscsi-target.service"))
                .replace("/usr/lib/jvm/temurin-25-jre-amd64/bin/java", ServerProcess.java());
        Path copy = dir.resolve("iscsi-target.service");
        Files.writeString(copy, unit);
        Tools.Result r = Tools.run(60, List.of("systemd-analyze", "verify", copy.toString()));
        assertThat(r.exitCode()).as(r.output()).isZero();
        assertThat(r.output()).as("no warning about the unit").doesNotContain("iscsi-target.service:");
    }

    @Test
    void aBadArgumentPrintsUsage() throws Exception {
        Tools.Result r = Tools.run(60, ServerProcess.cli("serve", "--confgi", "x.yaml"));
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.output()).contains("Unknown options: '--confgi'", "Possible solutions: --config",
                "Usage: iscsi-target serve");
        assertThat(r.output()).doesNotContain("Exception", "\tat ");
        Tools.Result watchDemo = Tools.run(60, ServerProcess.cli("serve", "--watch"));
        assertThat(watchDemo.exitCode()).isEqualTo(2);
        assertThat(watchDemo.output()).contains("--watch needs --config FILE").doesNotContain("\tat ");
        Tools.Result none = Tools.run(60, ServerProcess.cli());
        assertThat(none.exitCode()).isEqualTo(2);
        assertThat(none.output()).contains("Usage: iscsi-target", "serve", "check-config");
    }

    @Test
    void serveRefusesABadConfigWithTheSameMessages() throws Exception {
        Path config = dir.resolve("bad.yaml");
        Files.writeString(config, "server:\n  portals: [\"127.0.0.1:99999\"]\n");
        Tools.Result r = Tools.run(60, ServerProcess.cli("serve", "--config", config.toString()));
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.output()).contains(config + ":2:").contains("99999").doesNotContain("\tat ");
    }

    @Test
    void aLunThatCannotOpenIsLeftOutAndTheRestIsServed() throws Exception {
        Files.createDirectories(dir.resolve("not-a-file.img"));
        try (ServerProcess server = ServerProcess.start(dir, """
                server:
                  portals: ["127.0.0.1:0"]
                  admin: "127.0.0.1:0"
                targets:
                  - iqn: iqn.2026-11.org.rtarget.test:partial
                    luns:
                      - {lun: 0, name: broken, backend: file, path: not-a-file.img, size: 1M}
                      - {lun: 1, name: fine, backend: memory, size: 1M}
                """)) {
            assertThat(server.log()).containsPattern("LUN 0 \\(broken\\) is not exported: .*not-a-file.img");
            Tools.require("iscsi-ls", "libiscsi-bin");
            String out = Tools.run(30, List.of("iscsi-ls", "-s", "iscsi://" + server.portal())).ok().output();
            assertThat(out).contains("Lun:1").doesNotContain("Lun:0");
        }
    }

    @Test
    void aPortInUseIsOneClearMessage() throws Exception {
        try (java.net.ServerSocket taken = new java.net.ServerSocket(0, 1,
                java.net.InetAddress.getByName("127.0.0.1"))) {
            Path config = dir.resolve("busy.yaml");
            Files.writeString(config, "server:\n  portals: [\"127.0.0.1:" + taken.getLocalPort() + "\"]\n"
                    + "  admin: \"127.0.0.1:0\"\n");
            Tools.Result r = Tools.run(60, ServerProcess.cli("serve", "--config", config.toString()));
            assertThat(r.exitCode()).isEqualTo(1);
            assertThat(r.output()).contains("cannot listen on 127.0.0.1:" + taken.getLocalPort())
                    .doesNotContain("\tat ");
        }
    }
}
