package org.rtarget.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Discovery, INQUIRY and capacity as libiscsi's command-line tools see them. */
class LibiscsiToolsIT {
    static final String IQN = "iqn.2026-11.org.rtarget.test:tools";
    @TempDir
    static Path dir;
    static ServerProcess server;

    @BeforeAll
    static void start() throws Exception {
        Tools.require("iscsi-ls", "libiscsi-bin");
        server = ServerProcess.start(dir, """
                server:
                  portals: ["127.0.0.1:0"]
                  admin: "127.0.0.1:0"
                targets:
                  - iqn: %s
                    alias: tools-test
                    luns:
                      - {lun: 1, name: tools-mem, backend: memory, size: 64M}
                      - {lun: 3, name: tools-file, backend: file, path: images/disk.img, size: 10M, block-size: 4096}
                """.formatted(IQN));
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void discoveryListsTheTargetAndItsLuns() throws Exception {
        String out = Tools.run(30, "iscsi-ls", "-s", "iscsi://" + server.portal()).ok().output();
        assertThat(out).contains("Target:" + IQN + " Portal:" + server.portal() + ",1");
        // iscsi-ls prints (last LBA x block size) rounded down: one block short of the real size.
        assertThat(out).containsPattern("Lun:1 +Type:DIRECT_ACCESS \\(Size:63M\\)");
        assertThat(out).containsPattern("Lun:3 +Type:DIRECT_ACCESS \\(Size:9M\\)");
    }

    @Test
    void inquiryNamesTheDisk() throws Exception {
        String out = Tools.run(30, "iscsi-inq", server.url(IQN, 1)).ok().output();
        assertThat(out).contains("Peripheral Device Type:DIRECT_ACCESS", "Vendor:RTARGET", "Product:rtarget memory",
                "Version Descriptor:04c0 SBC-3", "CmdQue:1");
    }

    @Test
    void serialNumberIsStableAcrossSessions() throws Exception {
        String first = Tools.run(30, "iscsi-inq", "-e", "1", "-c", "128", server.url(IQN, 3)).ok().output();
        String second = Tools.run(30, "iscsi-inq", "-e", "1", "-c", "128", server.url(IQN, 3)).ok().output();
        assertThat(first).containsPattern("Unit Serial Number:\\[?[0-9A-F]{16}");
        assertThat(second).isEqualTo(first);
        String other = Tools.run(30, "iscsi-inq", "-e", "1", "-c", "128", server.url(IQN, 1)).ok().output();
        assertThat(other).isNotEqualTo(first);
    }

    @Test
    void deviceIdentificationCarriesNaaAndTargetName() throws Exception {
        String out = Tools.run(30, "iscsi-inq", "-e", "1", "-c", "131", server.url(IQN, 1)).ok().output();
        assertThat(out).contains("Designator Type:(3) NAA", "Designator:[" + IQN + "]", IQN + ",t,0x0001");
    }

    @Test
    void capacityMatchesTheConfiguration() throws Exception {
        String mem = Tools.run(30, "iscsi-readcapacity16", server.url(IQN, 1)).ok().output();
        assertThat(mem).contains("RETURNED LOGICAL BLOCK ADDRESS:" + (64L * 1024 * 1024 / 512 - 1),
                "LOGICAL BLOCK LENGTH IN BYTES:512", "Total size:" + 64L * 1024 * 1024);
        String file = Tools.run(30, "iscsi-readcapacity16", server.url(IQN, 3)).ok().output();
        assertThat(file).contains("RETURNED LOGICAL BLOCK ADDRESS:" + (10L * 1024 * 1024 / 4096 - 1),
                "LOGICAL BLOCK LENGTH IN BYTES:4096");
        // The file backend created the image sparse, at the configured size.
        assertThat(Files.size(dir.resolve("images/disk.img"))).isEqualTo(10L * 1024 * 1024);
    }

    @Test
    void aLunWithoutAUnitIsNotSupported() throws Exception {
        // The listing above went through LUN 0, which has no unit here: LUN 0 always answers REPORT LUNS.
        Tools.Result missing = Tools.run(30, "iscsi-inq", server.url(IQN, 7));
        assertThat(missing.exitCode()).isNotZero();
        assertThat(missing.output()).contains("LOGICAL_UNIT_NOT_SUPPORTED");
    }

    @Test
    void aWrongTargetNameIsRefusedAtLogin() throws Exception {
        Tools.Result r = Tools.run(30, "iscsi-inq", server.url("iqn.2026-11.org.rtarget.test:nosuch", 0));
        assertThat(r.exitCode()).isNotZero();
        assertThat(r.output()).containsIgnoringCase("not found");
        assertThat(server.log()).contains("no target named iqn.2026-11.org.rtarget.test:nosuch");
    }
}
