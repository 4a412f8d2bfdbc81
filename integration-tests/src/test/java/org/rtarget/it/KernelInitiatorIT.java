package org.rtarget.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Linux kernel initiator (open-iscsi in a QEMU guest, ../shared/tools/kernel-initiator): its
 * default scenario (dd pattern + checksums, mkfs.ext4, files, remount, e2fsck), and a run with header
 * and data digests.
 */
class KernelInitiatorIT {
    static final String IQN = "iqn.2026-11.org.rtarget.test:kernel";
    @TempDir
    static Path dir;
    static ServerProcess server;

    @BeforeAll
    static void start() throws Exception {
        server = ServerProcess.start(dir, """
                server:
                  portals: ["127.0.0.1:0"]
                  admin: "127.0.0.1:0"
                targets:
                  - iqn: %s
                    luns:
                      - {lun: 0, name: kernel-disk, backend: file, path: kernel.img, size: 512M}
                """.formatted(IQN));
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    private static Tools.Result kernelInitiator(String... extra) throws Exception {
        List<String> cmd = Tools.list(Tools.shared().resolve("tools/kernel-initiator").toString(),
                "--portal", server.portal(), "--iqn", IQN, "--timeout", "900");
        cmd.addAll(List.of(extra));
        return Tools.run(1000, cmd);
    }

    @Test
    void defaultScenarioPasses() throws Exception {
        Tools.Result r = kernelInitiator();
        assertThat(r.output()).as(tail(r.output())).contains("KI-RESULT: PASS", "pattern verified",
                "all checks passed");
        assertThat(r.exitCode()).isZero();
        assertThat(r.output()).contains("Direct-Access     RTARGET  rtarget file");
        assertThat(r.output()).doesNotContainIgnoringCase("I/O error");
        assertThat(server.log()).containsPattern("kernel-initiator.* logged out");
    }

    @Test
    void headerAndDataDigests() throws Exception {
        Path script = dir.resolve("digests.sh");
        try (InputStream in = KernelInitiatorIT.class.getResourceAsStream("/guest/digests.sh")) {
            Files.copy(in, script, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        Tools.Result r = kernelInitiator("--no-login", "--script", script.toString());
        assertThat(r.output()).as(tail(r.output())).contains("KI-RESULT: PASS", "[digests] all checks passed");
        assertThat(r.exitCode()).isZero();
        assertThat(server.log()).contains("HeaderDigest=CRC32C DataDigest=CRC32C");
    }

    private static String tail(String s) {
        return s.length() > 4000 ? s.substring(s.length() - 4000) : s;
    }
}
