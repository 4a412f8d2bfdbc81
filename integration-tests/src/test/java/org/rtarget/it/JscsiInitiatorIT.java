package org.rtarget.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.jscsi.initiator.Configuration;
import org.jscsi.initiator.Initiator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The jSCSI initiator (pure Java, LUN 0 only) writes and reads the target from inside the JVM. */
class JscsiInitiatorIT {
    static final String IQN = "iqn.2026-11.org.rtarget.test:jscsi";
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
                      - {lun: 0, name: jscsi-disk, backend: file, path: jscsi.img, size: 64M}
                """.formatted(IQN));
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    private static Initiator initiator() throws Exception {
        Path xsd = dir.resolve("jscsi.xsd");
        try (InputStream in = Initiator.class.getResourceAsStream("/jscsi.xsd")) {
            Files.copy(in, xsd, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        Path xml = dir.resolve("jscsi.xml");
        Files.writeString(xml, """
                <?xml version="1.0" encoding="UTF-8" ?>
                <configuration xmlns="http://www.jscsi.org/2006-09"
                    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
                    xsi:schemaLocation="http://www.jscsi.org/2006-09 jscsi.xsd">
                  <global>
                    <AuthMethod>None</AuthMethod>
                    <DataDigest>None</DataDigest>
                    <DataPDUInOrder>Yes</DataPDUInOrder>
                    <DataSequenceInOrder>Yes</DataSequenceInOrder>
                    <DefaultTime2Retain>20</DefaultTime2Retain>
                    <DefaultTime2Wait>2</DefaultTime2Wait>
                    <ErrorRecoveryLevel>0</ErrorRecoveryLevel>
                    <FirstBurstLength>65536</FirstBurstLength>
                    <HeaderDigest>None</HeaderDigest>
                    <IFMarker>No</IFMarker>
                    <IFMarkInt>2048</IFMarkInt>
                    <ImmediateData>Yes</ImmediateData>
                    <InitialR2T>Yes</InitialR2T>
                    <InitiatorAlias>rtarget-it</InitiatorAlias>
                    <InitiatorName>iqn.2026-11.org.rtarget.test:jscsi-initiator</InitiatorName>
                    <MaxBurstLength>262144</MaxBurstLength>
                    <MaxConnections>1</MaxConnections>
                    <MaxOutstandingR2T>1</MaxOutstandingR2T>
                    <MaxRecvDataSegmentLength>8192</MaxRecvDataSegmentLength>
                    <OFMarker>No</OFMarker>
                    <OFMarkInt>2048</OFMarkInt>
                    <SessionType>Normal</SessionType>
                  </global>
                  <target id="rtarget" address="127.0.0.1" port="%d">
                    <TargetName>%s</TargetName>
                  </target>
                </configuration>
                """.formatted(server.port(), IQN));
        return new Initiator(Configuration.create(xsd.toFile(), xml.toFile()));
    }

    @Test
    void writesAndReadsBackThroughJscsi() throws Exception {
        Initiator initiator = initiator();
        initiator.createSession("rtarget");
        try {
            assertThat(initiator.getBlockSize("rtarget")).isEqualTo(512);
            assertThat(initiator.getCapacity("rtarget")).isIn(64L * 1024 * 1024 / 512, 64L * 1024 * 1024 / 512 - 1);
            Random random = new Random(42);
            for (int round = 0; round < 8; round++) {
                int length = 512 * (1 + random.nextInt(512)); // up to 256 KiB: immediate data, then R2Ts
                int lba = random.nextInt(64 * 2048 - length / 512);
                byte[] bytes = new byte[length];
                random.nextBytes(bytes);
                initiator.write("rtarget", ByteBuffer.wrap(bytes), lba, length);
                ByteBuffer back = ByteBuffer.allocate(length);
                initiator.read("rtarget", back, lba, length);
                assertThat(back.array()).as("round %d at LBA %d, %d bytes", round, lba, length).isEqualTo(bytes);
                // And the bytes are in the image file where the LBA says.
                byte[] onDisk = new byte[length];
                try (var file = new java.io.RandomAccessFile(dir.resolve("jscsi.img").toFile(), "r")) {
                    file.seek((long) lba * 512);
                    file.readFully(onDisk);
                }
                assertThat(onDisk).isEqualTo(bytes);
            }
        } finally {
            initiator.closeSession("rtarget");
        }
    }
}
