package org.rtarget.backend.ploop;

import static org.assertj.core.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.rtarget.backend.BlockDevice;
import org.rtarget.backend.ExtentCallback;
import org.rtarget.backend.IoFailure;
import org.rtarget.backend.IoResult;

/** Helpers the ploop tests share: synchronous I/O on a device, raw BAT edits, running QEMU tools. */
final class PloopTesting {

    static final int KIB = 1024;
    static final int MIB = 1024 * 1024;
    /** Small clusters keep images and copies small. */
    static final int CLUSTER = 64 * KIB;

    private PloopTesting() {
    }

    static void write(BlockDevice device, long offset, byte[] data) {
        IoResult result = new IoResult();
        device.write(offset, ByteBuffer.allocateDirect(data.length).put(data).flip(), result);
        result.awaitSuccess();
    }

    static IoFailure writeFailure(BlockDevice device, long offset, byte[] data) {
        IoResult result = new IoResult();
        device.write(offset, ByteBuffer.allocateDirect(data.length).put(data).flip(), result);
        return result.awaitFailure();
    }

    static byte[] read(BlockDevice device, long offset, int length) {
        ByteBuffer dst = ByteBuffer.allocateDirect(length);
        IoResult result = new IoResult();
        device.read(offset, dst, result);
        result.awaitSuccess();
        byte[] bytes = new byte[length];
        dst.get(0, bytes);
        return bytes;
    }

    static void flush(BlockDevice device) {
        IoResult result = new IoResult();
        device.flush(result);
        result.awaitSuccess();
    }

    static void unmap(BlockDevice device, long offset, long length) {
        IoResult result = new IoResult();
        device.unmap(offset, length, result);
        result.awaitSuccess();
    }

    /** The extent answer as {mapped ? 1 : 0, length}. */
    static long[] extent(BlockDevice device, long offset, long limit) {
        long[] answer = new long[2];
        IoResult done = new IoResult();
        device.extent(offset, limit, new ExtentCallback() {
            @Override
            public void found(boolean mapped, long length) {
                answer[0] = mapped ? 1 : 0;
                answer[1] = length;
                done.completed();
            }

            @Override
            public void failed(IoFailure failure) {
                done.failed(failure);
            }
        });
        done.awaitSuccess();
        return answer;
    }

    static byte[] random(int length, long seed) {
        byte[] bytes = new byte[length];
        new Random(seed).nextBytes(bytes);
        return bytes;
    }

    static byte[] filled(int length, int value) {
        byte[] bytes = new byte[length];
        Arrays.fill(bytes, (byte) value);
        return bytes;
    }

    /** The raw BAT slot of virtual cluster {@code vc}, as stored (v2: a cluster index). */
    static int readSlot(Path image, long vc) throws IOException {
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(b, 64 + 4 * vc);
            return b.getInt(0);
        }
    }

    static void writeSlot(Path image, long vc, int value) throws IOException {
        writeInt(image, 64 + 4 * vc, value);
    }

    static void writeInt(Path image, long offset, int value) throws IOException {
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(0, value), offset);
        }
    }

    static void writeBytes(Path image, long offset, byte[] bytes) throws IOException {
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(bytes), offset);
        }
    }

    /** A command's exit code and combined output. */
    record Run(int exitCode, String output) {
    }

    static Run run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail(String.join(" ", command) + " did not finish within 60 s");
        }
        return new Run(p.exitValue(), out);
    }

    static void requireOnPath(String tool, String hint) {
        for (String entry : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(File.pathSeparator)) {
            if (Files.isExecutable(Path.of(entry, tool))) {
                return;
            }
        }
        fail(tool + " not found on PATH: " + hint);
    }

    static List<Path> chain(Path... deltas) {
        return List.of(deltas);
    }
}
