package org.rtarget.backend.memory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.rtarget.backend.Errno;
import org.rtarget.backend.IoFailure;
import org.rtarget.backend.IoResult;

class MemoryDeviceTest {

    private static final int MIB = 1 << 20;

    private final MemoryDevice device = new MemoryDevice(8L * MIB, 512);

    @Test
    void describesItself() {
        assertThat(device.size()).isEqualTo(8L * MIB);
        assertThat(device.blockSize()).isEqualTo(512);
        assertThat(device.kind()).isEqualTo("memory");
        assertThat(device.thinProvisioned()).isTrue();
        assertThat(device.standbyCapable()).isFalse();
    }

    @Test
    void roundTripAcrossChunkBoundariesWithDirectAndHeapBuffers() {
        byte[] data = randomBytes(2 * MIB + 4096, 1);
        long offset = MIB - 1024; // starts in chunk 0, covers chunk 1, ends in chunk 3

        ByteBuffer src = ByteBuffer.allocateDirect(data.length).put(data).flip();
        write(offset, src);
        assertThat(src.position()).as("position is left alone").isZero();

        ByteBuffer heapDst = ByteBuffer.allocate(data.length);
        read(offset, heapDst);
        assertThat(heapDst.array()).isEqualTo(data);

        ByteBuffer directDst = ByteBuffer.allocateDirect(data.length);
        read(offset, directDst);
        assertThat(bytes(directDst)).isEqualTo(data);
    }

    @Test
    void readsAndWritesUseTheBufferFromPositionToLimit() {
        ByteBuffer src = ByteBuffer.wrap(new byte[] {9, 9, 1, 2, 3, 9}).position(2).limit(5);
        write(4096, src);

        ByteBuffer dst = ByteBuffer.allocate(8).position(4).limit(7);
        read(4096, dst);
        assertThat(dst.array()).containsExactly(0, 0, 0, 0, 1, 2, 3, 0);
    }

    @Test
    void unwrittenAreasReadAsZerosWithoutAllocating() {
        ByteBuffer dst = ByteBuffer.allocate(3 * MIB);
        dst.array()[0] = 7;
        dst.array()[3 * MIB - 1] = 7;
        read(MIB / 2, dst);

        assertThat(dst.array()).containsOnly(0);
        assertThat(device.allocatedBytes()).isZero();
    }

    @Test
    void writesAllocateOnlyTheChunksTheyTouch() {
        write(3L * MIB + 100, ByteBuffer.wrap(new byte[] {1}));
        assertThat(device.allocatedBytes()).isEqualTo(MIB);
    }

    @Test
    void lastChunkOfAnOddSizedDeviceWorks() {
        MemoryDevice small = new MemoryDevice(MIB + 4096, 4096);
        byte[] data = randomBytes(8192, 2);
        write(small, MIB - 4096, ByteBuffer.wrap(data));
        ByteBuffer dst = ByteBuffer.allocate(8192);
        read(small, MIB - 4096, dst);
        assertThat(dst.array()).isEqualTo(data);
        // Every chunk is a whole MiB (the last one too, so that the device can grow in place).
        assertThat(small.allocatedBytes()).isEqualTo(2 * MIB);
    }

    @Test
    void growingKeepsTheDataAndServesTheNewBlocks() {
        MemoryDevice small = new MemoryDevice(MIB + 4096, 4096);
        byte[] data = randomBytes(8192, 3);
        write(small, MIB - 4096, ByteBuffer.wrap(data));
        small.resize(3 * MIB);
        assertThat(small.size()).isEqualTo(3 * MIB);
        ByteBuffer dst = ByteBuffer.allocate(8192);
        read(small, MIB - 4096, dst);
        assertThat(dst.array()).isEqualTo(data);
        byte[] tail = randomBytes(4096, 4);
        write(small, 3 * MIB - 4096, ByteBuffer.wrap(tail));
        ByteBuffer back = ByteBuffer.allocate(4096);
        read(small, 3 * MIB - 4096, back);
        assertThat(back.array()).isEqualTo(tail);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> small.resize(MIB))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void unmapZeroesPartialRangesAndDropsWholeChunks() {
        byte[] data = randomBytes(4 * MIB, 3);
        write(0, ByteBuffer.wrap(data));
        assertThat(device.allocatedBytes()).isEqualTo(4L * MIB);

        long from = MIB / 2;
        long to = 3L * MIB - 512; // chunks 1 whole, 0 and 2 partly
        IoResult unmap = new IoResult();
        device.unmap(from, to - from, unmap);
        unmap.awaitSuccess();

        ByteBuffer dst = ByteBuffer.allocate(4 * MIB);
        read(0, dst);
        byte[] expected = data.clone();
        Arrays.fill(expected, (int) from, (int) to, (byte) 0);
        assertThat(dst.array()).isEqualTo(expected);
        assertThat(device.allocatedBytes()).as("chunk 1 released").isEqualTo(3L * MIB);
    }

    @Test
    void flushCompletesAtOnce() {
        IoResult flush = new IoResult();
        device.flush(flush);
        flush.awaitSuccess();
        assertThat(flush.completedOn()).isSameAs(Thread.currentThread());
    }

    @Test
    void refusesRangesOutsideTheDevice() {
        IoResult result = new IoResult();
        device.read(8L * MIB - 512, ByteBuffer.allocate(1024), result);
        assertThat(result.awaitFailure().kind()).isEqualTo(IoFailure.Kind.INVALID_REQUEST);

        IoResult unmap = new IoResult();
        device.unmap(-512, 512, unmap);
        assertThat(unmap.awaitFailure().kind()).isEqualTo(IoFailure.Kind.INVALID_REQUEST);
    }

    @Test
    void rejectsBadGeometry() {
        assertThatThrownBy(() -> new MemoryDevice(1000, 512)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("multiple of the block size");
        assertThatThrownBy(() -> new MemoryDevice(4096, 1000)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("power of two");
    }

    @Test
    void concurrentWritersOnDistinctRangesAllLand() throws Exception {
        int threads = 16;
        int blocksPerThread = 64;
        int block = 4096;
        MemoryDevice shared = new MemoryDevice((long) threads * blocksPerThread * block, block);
        CyclicBarrier start = new CyclicBarrier(threads);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                futures.add(pool.submit(() -> {
                    start.await();
                    ByteBuffer buf = ByteBuffer.allocateDirect(block);
                    // interleave the threads' blocks so they share every chunk
                    for (int round = 0; round < 20; round++) {
                        for (int i = 0; i < blocksPerThread; i++) {
                            fill(buf, (byte) (thread * 7 + round));
                            IoResult result = new IoResult();
                            shared.write((long) (i * threads + thread) * block, buf, result);
                            result.awaitSuccess();
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : futures) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
        ByteBuffer dst = ByteBuffer.allocate(block);
        for (int i = 0; i < threads * blocksPerThread; i++) {
            read(shared, (long) i * block, dst);
            byte expected = (byte) ((i % threads) * 7 + 19);
            assertThat(dst.array()).as("block %d", i).containsOnly(expected);
        }
    }

    @Test
    void injectedFailuresFailTheNextOperationsThenStop() {
        IoFailure broken = IoFailure.ofErrno(Errno.ENOTCONN, "injected");
        write(0, ByteBuffer.wrap(new byte[] {5}));
        device.injectFailures(broken, 3);

        IoResult read = new IoResult();
        device.read(0, ByteBuffer.allocate(1), read);
        IoResult write = new IoResult();
        device.write(0, ByteBuffer.wrap(new byte[] {6}), write);
        IoResult flush = new IoResult();
        device.flush(flush);
        assertThat(read.awaitFailure()).isEqualTo(broken);
        assertThat(write.awaitFailure()).isEqualTo(broken);
        assertThat(flush.awaitFailure()).isEqualTo(broken);

        ByteBuffer dst = ByteBuffer.allocate(1);
        read(0, dst);
        assertThat(dst.get(0)).as("the failed write changed nothing").isEqualTo((byte) 5);
    }

    @Test
    void negativeCountFailsUntilCleared() {
        IoFailure broken = IoFailure.ofErrno(Errno.EIO, "injected");
        device.injectFailures(broken, -1);
        for (int i = 0; i < 100; i++) {
            IoResult flush = new IoResult();
            device.flush(flush);
            assertThat(flush.awaitFailure()).isEqualTo(broken);
        }
        device.clearInjectedFailures();
        IoResult flush = new IoResult();
        device.flush(flush);
        flush.awaitSuccess();
    }

    @Test
    void closeReleasesTheData() {
        write(0, ByteBuffer.wrap(new byte[] {1}));
        device.close();
        assertThat(device.allocatedBytes()).isZero();
    }

    private void write(long offset, ByteBuffer src) {
        write(device, offset, src);
    }

    private void read(long offset, ByteBuffer dst) {
        read(device, offset, dst);
    }

    private static void write(MemoryDevice device, long offset, ByteBuffer src) {
        IoResult result = new IoResult();
        device.write(offset, src, result);
        result.awaitSuccess();
    }

    private static void read(MemoryDevice device, long offset, ByteBuffer dst) {
        IoResult result = new IoResult();
        device.read(offset, dst, result);
        result.awaitSuccess();
    }

    private static void fill(ByteBuffer buf, byte value) {
        for (int i = 0; i < buf.capacity(); i++) {
            buf.put(i, value);
        }
    }

    private static byte[] bytes(ByteBuffer buf) {
        byte[] out = new byte[buf.remaining()];
        buf.get(buf.position(), out);
        return out;
    }

    private static byte[] randomBytes(int length, long seed) {
        byte[] out = new byte[length];
        new Random(seed).nextBytes(out);
        return out;
    }
}
