package org.rtarget.backend.ploop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.rtarget.backend.ploop.PloopTesting.CLUSTER;
import static org.rtarget.backend.ploop.PloopTesting.MIB;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The on-disk header and BAT layout, checked against bytes written out by hand from the format description. */
class PloopHeaderTest {

    @TempDir
    Path dir;

    @Test
    void newImageStartsWithTheHeaderWrittenOutByHand() throws IOException {
        Path image = dir.resolve("disk.hdd");
        PloopImage.create(image, 10L * MIB, CLUSTER);

        byte[] expected = {
            // 0: m_Sig "WithouFreSpacExt" (v2)
            'W', 'i', 't', 'h', 'o', 'u', 'F', 'r', 'e', 'S', 'p', 'a', 'c', 'E', 'x', 't',
            // 16: m_Type = 2 (PRL_IMAGE_COMPRESSED)
            2, 0, 0, 0,
            // 20: m_Heads = 16: 20480 sectors = 32 sectors/track x 16 heads x 40 cylinders
            16, 0, 0, 0,
            // 24: m_Cylinders = 40
            40, 0, 0, 0,
            // 28: m_Sectors = 128: 64 KiB clusters
            (byte) 0x80, 0, 0, 0,
            // 32: m_Size = 160 BAT entries (10 MiB / 64 KiB)
            (byte) 0xa0, 0, 0, 0,
            // 36: m_SizeInSectors_v2 = 20480 = 0x5000 (u64)
            0, 0x50, 0, 0, 0, 0, 0, 0,
            // 44: m_DiskInUse = 0 (closed)
            0, 0, 0, 0,
            // 48: m_FirstBlockOffset = 128 sectors: (16 + 160) x 4 bytes of header + BAT fit in one cluster
            (byte) 0x80, 0, 0, 0,
            // 52: m_Flags = CIF_Empty
            1, 0, 0, 0,
            // 56: m_FormatExtensionOffset = 0
            0, 0, 0, 0, 0, 0, 0, 0,
        };
        byte[] file = Files.readAllBytes(image);
        assertThat(Arrays.copyOf(file, 64)).isEqualTo(expected);
        assertThat(file).as("the header and one zeroed BAT cluster, no data").hasSize(CLUSTER);
        assertThat(Arrays.copyOfRange(file, 64, CLUSTER)).containsOnly(0);
    }

    @Test
    void aBatLongerThanOneClusterMovesTheFirstDataBlock() throws IOException {
        // 16369 entries: (16 + 16369) x 4 = 65540 bytes, 4 more than one 64 KiB cluster
        long size = 16369L * CLUSTER;
        Path image = dir.resolve("big.hdd");
        PloopImage.create(image, size, CLUSTER);

        ByteBuffer h = header(image);
        assertThat(h.getInt(20)).as("heads: 2095232 sectors lie between 504 MiB and 8 GiB").isEqualTo(16);
        assertThat(h.getInt(24)).as("cylinders = 2095232 / (63 x 16)").isEqualTo(2078);
        assertThat(h.getInt(32)).as("m_Size").isEqualTo(16369);
        assertThat(h.getLong(36)).as("m_SizeInSectors_v2").isEqualTo(2_095_232L);
        assertThat(h.getInt(48)).as("m_FirstBlockOffset: two BAT clusters").isEqualTo(256);
        assertThat(Files.size(image)).isEqualTo(2L * CLUSTER);
    }

    @Test
    void anOddSizeKeepsItsExactSectorsAndAPartialLastCluster() throws IOException {
        Path image = dir.resolve("odd.hdd");
        PloopImage.create(image, 10L * MIB + 512, MIB);

        ByteBuffer h = header(image);
        assertThat(h.getInt(28)).as("m_Sectors").isEqualTo(2048);
        assertThat(h.getInt(32)).as("m_Size: 10 whole clusters and a partial one").isEqualTo(11);
        assertThat(h.getLong(36)).as("m_SizeInSectors_v2").isEqualTo(20481L);
        assertThat(h.getInt(20)).as("heads: 20481 sectors has no CHS factors, pure LBA").isEqualTo(1);
        assertThat(h.getInt(24)).isEqualTo(20481);
        assertThat(PloopImage.info(image).virtualSize()).isEqualTo(10L * MIB + 512);
    }

    @Test
    void v1ImagesCarryTheOldSignatureAndA32BitSize() throws IOException {
        Path image = dir.resolve("v1.hdd");
        PloopImage.create(image, 4L * MIB, CLUSTER, FormatVersion.V1);
        ByteBuffer h = header(image);
        byte[] signature = new byte[16];
        h.get(0, signature);
        assertThat(new String(signature, StandardCharsets.US_ASCII)).isEqualTo("WithoutFreeSpace");
        assertThat(h.getInt(36)).as("m_SizeInSectors_v1").isEqualTo(8192);
        assertThat(h.getInt(40)).as("unused").isZero();
        assertThat(PloopImage.info(image).version()).isEqualTo(FormatVersion.V1);
    }

    @Test
    void parseAndEncodeRoundTrip() throws IOException {
        PloopHeader header = PloopHeader.forNewImage(FormatVersion.V2, 3L * MIB + 1024, CLUSTER);
        ByteBuffer bytes = header.encode();
        assertThat(PloopHeader.parse(Path.of("x"), bytes)).isEqualTo(header);
        assertThat(header.sizeBytes()).isEqualTo(3L * MIB + 1024);
        assertThat(header.batEntries()).isEqualTo(49);
    }

    @Test
    void parseRefusesWhatDoesNotAddUpAndSaysWhat() {
        Path file = Path.of("/images/disk.hdd");
        ByteBuffer good = PloopHeader.forNewImage(FormatVersion.V2, 10L * MIB, CLUSTER).encode();

        assertThatThrownBy(() -> PloopHeader.parse(file, with(good, 0, "WithoutFreeSpacX".getBytes())))
                .isInstanceOf(PloopFormatException.class)
                .hasMessageContaining("/images/disk.hdd").hasMessageContaining("bad signature \"WithoutFreeSpacX\"");
        assertThatThrownBy(() -> PloopHeader.parse(file, withInt(good, 28, 0)))
                .hasMessageContaining("/images/disk.hdd").hasMessageContaining("cluster size is 0");
        assertThatThrownBy(() -> PloopHeader.parse(file, withInt(good, 28, 96)))
                .hasMessageContaining("not a power of two");
        assertThatThrownBy(() -> PloopHeader.parse(file, withInt(good, 28, 8)))
                .hasMessageContaining("outside ploop's range");
        assertThatThrownBy(() -> PloopHeader.parse(file, withInt(good, 32, 161)))
                .hasMessageContaining("BAT size 161 entries (m_Size) does not match the virtual size of 20480 sectors");
        assertThatThrownBy(() -> PloopHeader.parse(file, withInt(good, 48, 64)))
                .hasMessageContaining("first data block offset 64 sectors").hasMessageContaining("not a positive multiple");
        assertThatThrownBy(() -> PloopHeader.parse(file, withInt(good, 48, 0)))
                .hasMessageContaining("first data block offset 0");
        assertThatThrownBy(() -> PloopHeader.parse(file, withInt(good, 16, 1)))
                .hasMessageContaining("unknown image type 1");
        assertThatThrownBy(() -> PloopHeader.parse(file, ByteBuffer.allocate(20)))
                .hasMessageContaining("too short");
    }

    @Test
    void theFirstDataBlockCannotLieInsideTheBat() {
        // 16369 entries need two 64 KiB clusters; an offset of one cluster would put data over the BAT
        ByteBuffer big = PloopHeader.forNewImage(FormatVersion.V2, 16369L * CLUSTER, CLUSTER).encode();
        assertThatThrownBy(() -> PloopHeader.parse(Path.of("big.hdd"), withInt(big, 48, 128)))
                .isInstanceOf(PloopFormatException.class)
                .hasMessageContaining("big.hdd")
                .hasMessageContaining("lies inside the BAT, which needs 2 clusters");
    }

    @Test
    void createRefusesBadArgumentsAndNeverOverwrites() throws IOException {
        assertThatThrownBy(() -> PloopImage.create(dir.resolve("a"), MIB + 100, CLUSTER))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("multiple of 512");
        assertThatThrownBy(() -> PloopImage.create(dir.resolve("b"), MIB, 3 * CLUSTER))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("power of two");
        Path existing = Files.writeString(dir.resolve("c"), "precious");
        assertThatThrownBy(() -> PloopImage.create(existing, MIB, CLUSTER))
                .isInstanceOf(FileAlreadyExistsException.class);
        assertThat(Files.readString(existing)).isEqualTo("precious");
    }

    private static ByteBuffer header(Path image) throws IOException {
        return ByteBuffer.wrap(Arrays.copyOf(Files.readAllBytes(image), 64)).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    }

    private static ByteBuffer with(ByteBuffer header, int offset, byte[] bytes) {
        ByteBuffer copy = copy(header);
        copy.put(offset, bytes);
        return copy;
    }

    private static ByteBuffer withInt(ByteBuffer header, int offset, int value) {
        ByteBuffer copy = copy(header);
        copy.putInt(offset, value);
        return copy;
    }

    private static ByteBuffer copy(ByteBuffer header) {
        ByteBuffer copy = ByteBuffer.allocate(header.capacity()).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        copy.put(0, header, 0, header.capacity());
        return copy;
    }
}
