package org.rtarget.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * At least 64 MiB written at random offsets and sizes through QEMU's iSCSI driver, read back and
 * verified; on a file LUN the bytes are also checked in the image itself.
 */
class QemuRoundTripIT {
    static final String IQN = "iqn.2026-11.org.rtarget.test:qemu";
    static final long DISK = 1L << 30;
    static final long SEED = Long.getLong("rtarget.seed", System.nanoTime());
    @TempDir
    static Path dir;
    static ServerProcess server;

    @BeforeAll
    static void start() throws Exception {
        Tools.require("qemu-io", "qemu-utils qemu-block-extra");
        System.out.println("QemuRoundTripIT seed " + SEED + " (rerun with -Drtarget.seed=" + SEED + ")");
        server = ServerProcess.start(dir, """
                server:
                  portals: ["127.0.0.1:0"]
                  admin: "127.0.0.1:0"
                targets:
                  - iqn: %s
                    luns:
                      - {lun: 0, name: qemu-mem, backend: memory, size: 1G}
                      - {lun: 1, name: qemu-file, backend: file, path: images/qemu.img, size: 1G}
                      - {lun: 2, name: qemu-digest, backend: memory, size: 1G}
                """.formatted(IQN));
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void memoryLunRoundTrip() throws Exception {
        List<QemuIo.Region> regions = QemuIo.randomRegions(SEED, DISK, 64, 3 << 20, 64 << 20);
        QemuIo.run(List.of("-f", "raw", server.url(IQN, 0)), QemuIo.writeThenVerify(regions),
                regions.size(), regions.size());
        // Bytes between the regions were never written: they read as zeros.
        List<String> gaps = new ArrayList<>();
        for (int i = 0; i + 1 < regions.size(); i += 8) {
            long end = regions.get(i).offset() + regions.get(i).length();
            long gap = regions.get(i + 1).offset() - end;
            if (gap >= 512) {
                gaps.add("-c");
                gaps.add("read -P 0 " + end + " " + Math.min(gap, 1 << 20));
            }
        }
        QemuIo.run(List.of("-f", "raw", server.url(IQN, 0)), gaps, 0, gaps.size() / 2);
    }

    @Test
    void fileLunRoundTripLandsInTheImage() throws Exception {
        List<QemuIo.Region> regions = QemuIo.randomRegions(SEED + 1, DISK, 64, 3 << 20, 64 << 20);
        QemuIo.run(List.of("-f", "raw", server.url(IQN, 1)), QemuIo.writeThenVerify(regions),
                regions.size(), regions.size());
        try (RandomAccessFile image = new RandomAccessFile(dir.resolve("images/qemu.img").toFile(), "r")) {
            assertThat(image.length()).isEqualTo(DISK);
            for (QemuIo.Region r : regions) {
                byte[] bytes = new byte[r.length()];
                image.seek(r.offset());
                image.readFully(bytes);
                for (int i = 0; i < bytes.length; i++) {
                    if ((bytes[i] & 0xff) != r.pattern()) {
                        throw new AssertionError("image byte at " + (r.offset() + i) + " is " + (bytes[i] & 0xff)
                                + ", expected " + r.pattern());
                    }
                }
            }
        }
    }

    @Test
    void roundTripWithHeaderDigests() throws Exception {
        // libiscsi (and so QEMU) implements header digests only; data digests are tested with the
        // kernel initiator.
        List<QemuIo.Region> regions = QemuIo.randomRegions(SEED + 2, DISK, 64, 3 << 20, 64 << 20);
        String opts = "driver=raw,file.driver=iscsi,file.transport=tcp,file.portal=" + server.portal()
                + ",file.target=" + IQN + ",file.lun=2,file.header-digest=crc32c";
        QemuIo.run(List.of("--image-opts", opts), QemuIo.writeThenVerify(regions), regions.size(), regions.size());
        assertThat(server.log()).contains("HeaderDigest=CRC32C");
    }
}
