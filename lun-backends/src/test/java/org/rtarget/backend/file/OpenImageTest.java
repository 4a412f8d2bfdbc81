package org.rtarget.backend.file;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rtarget.backend.posix.PosixFile;

class OpenImageTest {

    @TempDir
    Path dir;

    @Test
    void aReplacedImageStaysOpenUntilItsLastRequestIsDone() throws Exception {
        Path path = dir.resolve("old.img");
        Files.write(path, new byte[] {42});
        OpenImage image = new OpenImage(PosixFile.open(path, PosixFile.O_RDONLY, 0));

        assertThat(image.tryAcquire()).as("a request starts").isTrue();
        image.release(); // the device drops it (recovery replaced it)
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment one = arena.allocate(1);
            image.file().readFully(one, 0);
            assertThat(one.get(ValueLayout.JAVA_BYTE, 0)).as("the request still reads").isEqualTo((byte) 42);
        }
        assertThat(descriptorPointsTo(image.file().fd(), path)).isTrue();

        image.release(); // the request is done
        assertThat(descriptorPointsTo(image.file().fd(), path)).as("closed").isFalse();
        assertThat(image.tryAcquire()).as("a closed image is never handed out again").isFalse();
    }

    /** Whether the descriptor is open on this file (the number may be reused for another once closed). */
    private static boolean descriptorPointsTo(int fd, Path path) throws Exception {
        Path link = Path.of("/proc/self/fd/" + fd);
        return Files.exists(link, LinkOption.NOFOLLOW_LINKS)
                && Files.readSymbolicLink(link).equals(path.toRealPath());
    }
}
