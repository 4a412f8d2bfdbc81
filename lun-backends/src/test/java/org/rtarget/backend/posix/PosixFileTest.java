package org.rtarget.backend.posix;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rtarget.backend.Errno;

class PosixFileTest {

    @TempDir
    Path dir;

    @Test
    void openOfAMissingFileCarriesENOENTAndNamesCallAndPath() {
        Path missing = dir.resolve("missing.img");
        assertThatThrownBy(() -> PosixFile.open(missing, PosixFile.O_RDWR, 0))
                .isInstanceOfSatisfying(PosixException.class, e -> {
                    assertThat(e.errno()).isEqualTo(Errno.ENOENT);
                    assertThat(e.call()).isEqualTo("open");
                    assertThat(e.getMessage()).isEqualTo("open " + missing + ": ENOENT");
                });
    }

    @Test
    void writesReadsTruncatesAndPunchesHoles() throws Exception {
        Path path = dir.resolve("f.img");
        try (PosixFile file = PosixFile.open(path, PosixFile.O_RDWR | PosixFile.O_CREAT | PosixFile.O_CLOEXEC, 0600);
                Arena arena = Arena.ofConfined()) {
            file.truncate(1 << 20);
            assertThat(file.size()).isEqualTo(1 << 20);

            MemorySegment src = arena.allocate(8192);
            src.fill((byte) 0x5a);
            file.writeFully(src, 4096);
            file.dataSync();
            file.sync();
            assertThat(Files.readAllBytes(path)[4096]).isEqualTo((byte) 0x5a);

            MemorySegment dst = arena.allocate(8192);
            file.readFully(dst, 4096);
            assertThat(dst.mismatch(src)).isEqualTo(-1);

            file.fallocate(PosixFile.FALLOC_FL_PUNCH_HOLE | PosixFile.FALLOC_FL_KEEP_SIZE, 4096, 4096);
            file.readFully(dst, 4096);
            assertThat(dst.get(ValueLayout.JAVA_BYTE, 0)).isZero();
            assertThat(dst.get(ValueLayout.JAVA_BYTE, 4096)).isEqualTo((byte) 0x5a);
            assertThat(file.size()).as("KEEP_SIZE").isEqualTo(1 << 20);
        }
    }

    @Test
    void readingPastTheEndOfTheFileGivesZeros() throws Exception {
        Path path = dir.resolve("short.img");
        Files.write(path, new byte[] {1, 2, 3});
        try (PosixFile file = PosixFile.open(path, PosixFile.O_RDONLY, 0); Arena arena = Arena.ofConfined()) {
            MemorySegment dst = arena.allocate(16);
            dst.fill((byte) 7);
            file.readFully(dst, 0);
            assertThat(dst.toArray(ValueLayout.JAVA_BYTE))
                    .containsExactly(1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
        }
    }

    @Test
    void writeToAReadOnlyDescriptorCarriesEBADF() throws Exception {
        Path path = dir.resolve("ro.img");
        Files.write(path, new byte[512]);
        try (PosixFile file = PosixFile.open(path, PosixFile.O_RDONLY, 0); Arena arena = Arena.ofConfined()) {
            assertThatThrownBy(() -> file.writeFully(arena.allocate(512), 0))
                    .isInstanceOfSatisfying(PosixException.class, e -> {
                        assertThat(e.errno()).isEqualTo(Errno.EBADF);
                        assertThat(e.getMessage()).contains("pwrite", path.toString());
                    });
        }
    }

    @Test
    void closeTwiceIsHarmless() throws Exception {
        Path path = dir.resolve("c.img");
        PosixFile file = PosixFile.open(path, PosixFile.O_RDWR | PosixFile.O_CREAT, 0600);
        file.close();
        file.close();
    }
}
