package org.rtarget.backend.file;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.rtarget.backend.IoFailure;
import org.rtarget.backend.IoResult;
import org.rtarget.backend.StorageEvents;

@Timeout(30)
class FileDeviceTest {

    private static final int MIB = 1 << 20;

    @TempDir
    Path dir;

    private final ExecutorService io = Executors.newFixedThreadPool(4, r -> new Thread(r, "file-io"));
    private FileDevice device;

    @AfterEach
    void tearDown() throws InterruptedException {
        if (device != null) {
            device.close();
        }
        io.shutdownNow();
        io.awaitTermination(5, TimeUnit.SECONDS);
    }

    @Test
    void roundTripCompletesOnTheIoExecutor() throws IOException {
        device = FileDevice.open(dir.resolve("disk.img"), 8L * MIB, 4096, false, io);
        assertThat(device.kind()).isEqualTo("file");
        assertThat(device.standbyCapable()).isTrue();
        assertThat(device.thinProvisioned()).isTrue();

        byte[] data = randomBytes(3 * 4096, 1);
        IoResult write = new IoResult();
        device.write(5 * 4096, ByteBuffer.allocateDirect(data.length).put(data).flip(), write);
        write.awaitSuccess();
        assertThat(write.completedOn().getName()).isEqualTo("file-io");

        ByteBuffer dst = ByteBuffer.allocateDirect(data.length);
        read(5 * 4096, dst);
        assertThat(bytes(dst)).isEqualTo(data);

        IoResult flush = new IoResult();
        device.flush(flush);
        flush.awaitSuccess();
        assertThat(Arrays.copyOfRange(Files.readAllBytes(device.path()), 5 * 4096, 8 * 4096)).isEqualTo(data);
    }

    @Test
    void heapBuffersWorkThroughACopy() throws IOException {
        device = FileDevice.open(dir.resolve("disk.img"), MIB, 512, false, io);
        byte[] data = randomBytes(1536, 2);
        write(512, ByteBuffer.wrap(data));
        ByteBuffer dst = ByteBuffer.allocate(1536);
        read(512, dst);
        assertThat(dst.array()).isEqualTo(data);
    }

    @Test
    void createsTheFileSparseWithItsDirectory() throws Exception {
        Path path = dir.resolve("new/sub/disk.img");
        device = FileDevice.open(path, 1L << 30, 4096, false, io);

        assertThat(Files.size(path)).isEqualTo(1L << 30);
        assertThat(device.size()).isEqualTo(1L << 30);
        assertThat(allocatedBlocks(path)).as("512-byte blocks allocated for a fresh 1 GiB image").isLessThan(64);

        ByteBuffer dst = ByteBuffer.allocateDirect(MIB);
        read(512L * MIB, dst);
        assertThat(bytes(dst)).containsOnly(0);
    }

    @Test
    void servesAnExistingFilesDataAtItsSizeRoundedDownToBlocks() throws IOException {
        Path path = dir.resolve("existing.img");
        byte[] data = randomBytes(10_000, 3);
        Files.write(path, data);

        device = FileDevice.open(path, 0, 512, false, io);
        assertThat(device.size()).isEqualTo(9728);
        ByteBuffer dst = ByteBuffer.allocateDirect(9728);
        read(0, dst);
        assertThat(bytes(dst)).isEqualTo(Arrays.copyOf(data, 9728));
        assertThat(Files.size(path)).as("the file is left as it was").isEqualTo(10_000);
    }

    @Test
    void growsAnExistingFileKeepingItsData() throws IOException {
        Path path = dir.resolve("grow.img");
        byte[] data = randomBytes(MIB, 4);
        Files.write(path, data);

        device = FileDevice.open(path, 4L * MIB, 4096, false, io);
        assertThat(device.size()).isEqualTo(4L * MIB);
        assertThat(Files.size(path)).isEqualTo(4L * MIB);
        ByteBuffer dst = ByteBuffer.allocateDirect(2 * MIB);
        read(0, dst);
        assertThat(Arrays.copyOf(bytes(dst), MIB)).isEqualTo(data);
        assertThat(Arrays.copyOfRange(bytes(dst), MIB, 2 * MIB)).containsOnly(0);
    }

    @Test
    void readOnlyRefusesWritesAndUnmapsButReads() throws IOException {
        Path path = dir.resolve("ro.img");
        Files.write(path, "hello".getBytes(StandardCharsets.US_ASCII));
        Files.write(path, new byte[4091], StandardOpenOption.APPEND);

        device = FileDevice.open(path, 0, 4096, true, io);
        IoResult write = new IoResult();
        device.write(0, ByteBuffer.allocateDirect(4096), write);
        IoFailure failure = write.awaitFailure();
        assertThat(failure.kind()).isEqualTo(IoFailure.Kind.READ_ONLY);
        assertThat(failure.message()).contains(path.toString());

        IoResult unmap = new IoResult();
        device.unmap(0, 4096, unmap);
        assertThat(unmap.awaitFailure().kind()).isEqualTo(IoFailure.Kind.READ_ONLY);
        assertThat(device.thinProvisioned()).isFalse();

        ByteBuffer dst = ByteBuffer.allocateDirect(5);
        read(0, dst);
        assertThat(new String(bytes(dst), StandardCharsets.US_ASCII)).isEqualTo("hello");
    }

    @Test
    void unmapPunchesAHole() throws Exception {
        Path path = dir.resolve("thin.img");
        device = FileDevice.open(path, 4L * MIB, 4096, false, io);
        byte[] data = randomBytes(4 * MIB, 5);
        write(0, ByteBuffer.allocateDirect(data.length).put(data).flip());
        flush();
        long blocksBefore = allocatedBlocks(path);

        IoResult unmap = new IoResult();
        device.unmap(MIB, 2L * MIB, unmap);
        unmap.awaitSuccess();

        ByteBuffer dst = ByteBuffer.allocateDirect(4 * MIB);
        read(0, dst);
        byte[] expected = data.clone();
        Arrays.fill(expected, MIB, 3 * MIB, (byte) 0);
        assertThat(bytes(dst)).isEqualTo(expected);
        assertThat(allocatedBlocks(path)).as("space released").isLessThanOrEqualTo(blocksBefore - 2 * MIB / 512);
        assertThat(Files.size(path)).isEqualTo(4L * MIB);
    }

    @Test
    void refusesRangesOutsideTheImage() throws IOException {
        device = FileDevice.open(dir.resolve("disk.img"), MIB, 512, false, io);
        IoResult read = new IoResult();
        device.read(MIB, ByteBuffer.allocateDirect(512), read);
        assertThat(read.awaitFailure().kind()).isEqualTo(IoFailure.Kind.INVALID_REQUEST);
    }

    @Test
    void clearErrorsWhenTheImageCannotBeServed() throws IOException {
        Path missing = dir.resolve("missing.img");
        assertThatThrownBy(() -> FileDevice.open(missing, 0, 512, false, io))
                .isInstanceOf(IOException.class).hasMessageContaining(missing.toString()).hasMessageContaining("does not exist");
        assertThatThrownBy(() -> FileDevice.open(missing, MIB, 512, true, io))
                .isInstanceOf(IOException.class).hasMessageContaining(missing.toString()).hasMessageContaining("read-only");
        assertThat(missing).doesNotExist();

        assertThatThrownBy(() -> FileDevice.open(dir, 0, 512, false, io))
                .isInstanceOf(IOException.class).hasMessageContaining(dir.toString()).hasMessageContaining("directory");

        Path tiny = dir.resolve("tiny.img");
        Files.write(tiny, new byte[100]);
        assertThatThrownBy(() -> FileDevice.open(tiny, 0, 512, false, io))
                .isInstanceOf(IOException.class).hasMessageContaining(tiny.toString()).hasMessageContaining("less than one block");
        assertThatThrownBy(() -> FileDevice.open(tiny, MIB, 512, true, io))
                .isInstanceOf(IOException.class).hasMessageContaining("cannot be grown");

        Path blocker = dir.resolve("plain-file");
        Files.write(blocker, new byte[1]);
        assertThatThrownBy(() -> FileDevice.open(blocker.resolve("disk.img"), MIB, 512, false, io))
                .isInstanceOf(IOException.class).hasMessageContaining(blocker.resolve("disk.img").toString());
    }

    @Test
    void recoverOntoANewPathServesTheNewFileAndSignalsOnce() throws IOException {
        Path first = dir.resolve("a.img");
        Path second = dir.resolve("b.img");
        Files.write(first, filled(MIB, (byte) 'A'));
        Files.write(second, filled(MIB, (byte) 'B'));
        device = FileDevice.open(first, 0, 512, false, io);
        AtomicInteger recovered = new AtomicInteger();
        device.attach(recovered::incrementAndGet);

        device.recover(second);

        assertThat(recovered.get()).isEqualTo(1);
        assertThat(device.path()).isEqualTo(second);
        ByteBuffer dst = ByteBuffer.allocateDirect(512);
        read(4096, dst);
        assertThat(bytes(dst)).containsOnly('B');
        write(0, ByteBuffer.allocateDirect(512).put(0, filled(512, (byte) 'C')));
        assertThat(Files.readAllBytes(second)[0]).isEqualTo((byte) 'C');
        assertThat(Files.readAllBytes(first)[0]).isEqualTo((byte) 'A');
    }

    @Test
    void failedRecoveryThrowsAndKeepsServingTheOldFile() throws IOException {
        Path first = dir.resolve("a.img");
        Files.write(first, filled(MIB, (byte) 'A'));
        Path smaller = dir.resolve("small.img");
        Files.write(smaller, filled(MIB / 2, (byte) 'S'));
        device = FileDevice.open(first, 0, 512, false, io);
        AtomicInteger recovered = new AtomicInteger();
        device.attach(recovered::incrementAndGet);

        Path missing = dir.resolve("missing.img");
        assertThatThrownBy(() -> device.recover(missing))
                .isInstanceOf(IOException.class).hasMessageContaining(missing.toString());
        assertThatThrownBy(() -> device.recover(smaller))
                .isInstanceOf(IOException.class).hasMessageContaining("smaller than the exported");

        assertThat(recovered.get()).isZero();
        assertThat(device.path()).isEqualTo(first);
        ByteBuffer dst = ByteBuffer.allocateDirect(512);
        read(0, dst);
        assertThat(bytes(dst)).containsOnly('A');
    }

    @Test
    void recoverWithoutReplacementReopensTheSamePath() throws IOException {
        Path path = dir.resolve("same.img");
        device = FileDevice.open(path, MIB, 512, false, io);
        device.attach(StorageEvents.NONE);
        write(0, ByteBuffer.allocateDirect(512).put(0, filled(512, (byte) 'X')));
        device.recover(null);
        ByteBuffer dst = ByteBuffer.allocateDirect(512);
        read(0, dst);
        assertThat(bytes(dst)).containsOnly('X');
    }

    @Test
    void ioAfterCloseFailsInsteadOfHanging() throws IOException {
        device = FileDevice.open(dir.resolve("disk.img"), MIB, 512, false, io);
        device.close();
        IoResult read = new IoResult();
        device.read(0, ByteBuffer.allocateDirect(512), read);
        assertThat(read.awaitFailure().message()).contains("closed");
    }

    private void read(long offset, ByteBuffer dst) {
        IoResult result = new IoResult();
        device.read(offset, dst, result);
        result.awaitSuccess();
    }

    private void write(long offset, ByteBuffer src) {
        IoResult result = new IoResult();
        device.write(offset, src, result);
        result.awaitSuccess();
    }

    private void flush() {
        IoResult result = new IoResult();
        device.flush(result);
        result.awaitSuccess();
    }

    /** st_blocks, in 512-byte units, as du counts them. */
    static long allocatedBlocks(Path path) throws IOException, InterruptedException {
        Process stat = new ProcessBuilder("stat", "-c", "%b", path.toString()).redirectErrorStream(true).start();
        String out = new String(stat.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).trim();
        assertThat(stat.waitFor()).as("stat: %s", out).isZero();
        return Long.parseLong(out);
    }

    static byte[] bytes(ByteBuffer buf) {
        byte[] out = new byte[buf.remaining()];
        buf.get(buf.position(), out);
        return out;
    }

    static byte[] filled(int length, byte value) {
        byte[] out = new byte[length];
        Arrays.fill(out, value);
        return out;
    }

    private static byte[] randomBytes(int length, long seed) {
        byte[] out = new byte[length];
        new Random(seed).nextBytes(out);
        return out;
    }
}
