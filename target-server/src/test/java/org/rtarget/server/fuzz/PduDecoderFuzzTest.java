package org.rtarget.server.fuzz;

import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.ShrinkingMode;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;
import org.rtarget.server.iscsi.pdu.Digests;
import org.rtarget.server.iscsi.pdu.Pdu;
import org.rtarget.server.iscsi.pdu.PduDecoder;
import org.rtarget.server.iscsi.pdu.PduException;

/**
 * (a) The PDU decoder on any byte stream: random bytes, and real PDUs from the seed corpus framed
 * with and without digests, mutated (bit flips, length fields, truncation, splicing), concatenated
 * and cut into random chunks. Only PDUs or one PduException may come out; the PDUs are exactly what
 * an independent reference framer finds; the decoder never holds more than one PDU's worth of
 * bytes plus the chunk in flight; nothing leaks; nothing hangs.
 */
class PduDecoderFuzzTest {
    private static final int[] MAX_DATA = {512, 8192, 65536, 262144, 16777215};
    private static Guards guards;

    @BeforeContainer
    static void start() {
        guards = new Guards();
    }

    @AfterContainer
    static void stop() {
        try {
            guards.assertNoLeakReported("PduDecoderFuzzTest");
        } finally {
            guards.close();
        }
    }

    @Property(shrinking = ShrinkingMode.OFF)
    void mutatedRealPdusInRandomChunks(@ForAll long seed) throws Exception {
        guards.run(Duration.ofSeconds(30), () -> {
            Random r = new Random(seed);
            int mode = r.nextInt(3);
            boolean hd = mode > 0;
            boolean dd = mode > 1;
            int maxData = MAX_DATA[r.nextInt(MAX_DATA.length)];
            StringBuilder what = new StringBuilder("seed " + seed + " hd=" + hd + " dd=" + dd + " max=" + maxData + ":");
            List<Wire.Seed> corpus = Wire.seeds();
            List<byte[]> frames = new ArrayList<>();
            int n = 1 + r.nextInt(8);
            for (int i = 0; i < n; i++) {
                Wire.Seed s = corpus.get(r.nextInt(corpus.size()));
                byte[] f = s.framed(hd, dd);
                int kind = r.nextInt(20);
                if (kind < 9) {
                    what.append(' ').append(s.name());
                } else if (kind < 18) {
                    f = Mutator.mutate(r, f, frames);
                    if (r.nextBoolean()) {
                        Wire.fixDigests(f, hd, dd);
                    }
                    what.append(" mutated(").append(s.name()).append(")=").append(Wire.hex(f, 0, 64));
                } else {
                    f = Mutator.randomBytes(r, r.nextInt(200));
                    what.append(" junk=").append(Wire.hex(f));
                }
                frames.add(f);
            }
            byte[] stream = Wire.concat(frames);
            if (r.nextInt(5) == 0) {
                stream = Arrays.copyOf(stream, r.nextInt(stream.length + 1));
                what.append(" truncated to ").append(stream.length);
            }
            check(r, stream, hd, dd, maxData, what.toString());
            return null;
        });
        guards.assertQuiet("seed " + seed);
    }

    @Property(shrinking = ShrinkingMode.OFF)
    void randomByteStreamsInRandomChunks(@ForAll long seed) throws Exception {
        guards.run(Duration.ofSeconds(30), () -> {
            Random r = new Random(seed);
            int mode = r.nextInt(3);
            boolean hd = mode > 0;
            boolean dd = mode > 1;
            int maxData = MAX_DATA[r.nextInt(MAX_DATA.length)];
            List<byte[]> parts = new ArrayList<>();
            int n = 1 + r.nextInt(6);
            for (int i = 0; i < n; i++) {
                if (r.nextBoolean()) {
                    parts.add(Mutator.randomBytes(r, r.nextInt(r.nextBoolean() ? 100 : 3000)));
                } else {
                    // Header-shaped: a random BHS with small AHS and data lengths, so frames do form.
                    byte[] header = Mutator.randomBytes(r, Wire.BHS + 4 * r.nextInt(3));
                    byte[] data = Mutator.randomBytes(r, r.nextInt(4) == 0 ? r.nextInt(70000) : r.nextInt(600));
                    byte[] f = Wire.frame(header, data, hd, dd);
                    if (r.nextInt(4) == 0) {
                        f[r.nextInt(f.length)] ^= (byte) (1 << r.nextInt(8)); // a digest error, or a changed length
                    }
                    parts.add(f);
                }
            }
            byte[] stream = Wire.concat(parts);
            check(r, stream, hd, dd, maxData,
                    "seed " + seed + " hd=" + hd + " dd=" + dd + " max=" + maxData + " stream=" + Wire.hex(stream));
            return null;
        });
        guards.assertQuiet("seed " + seed);
    }

    /** Feeds the stream in random chunks and checks everything the decoder does against the reference. */
    private static void check(Random r, byte[] stream, boolean hd, boolean dd, int maxData, String what) throws Exception {
        UnpooledByteBufAllocator alloc = Guards.countingAllocator();
        Digests digests = new Digests();
        digests.enable(hd, dd);
        EmbeddedChannel ch = new EmbeddedChannel(false, false, new PduDecoder(digests, maxData));
        ch.config().setAllocator(alloc);
        ch.register();
        Wire.Framing expected = Wire.reference(stream, hd, dd, maxData);
        List<byte[]> bhs = new ArrayList<>();
        List<byte[]> data = new ArrayList<>();
        String error = null;
        // One PDU's worth: BHS, the largest AHS, digests, the largest data segment with its padding.
        long onePdu = Wire.BHS + 255 * 4 + 4 + Wire.pad(maxData) + 4;
        long peak = 0;
        List<byte[]> chunks = Mutator.chunk(r, stream);
        try {
            for (byte[] chunk : chunks) {
                try {
                    ch.writeInbound(Unpooled.wrappedBuffer(chunk));
                } catch (PduException e) {
                    if (error != null) {
                        throw new AssertionError(what + ": a second PduException after \"" + error + "\": " + e.getMessage());
                    }
                    error = e.getMessage();
                } catch (Throwable t) {
                    throw new AssertionError(what + ": the decoder threw " + t, t);
                }
                drain(ch, bhs, data, maxData, what);
                long used = Guards.used(alloc);
                peak = Math.max(peak, used);
                // Netty's cumulation keeps consumed bytes until they are half its capacity, and grows to
                // powers of two: its capacity stays below four times (one PDU + the chunk being added).
                if (used > 4 * (onePdu + chunk.length) + 65536) {
                    throw new AssertionError(what + ": the decoder holds " + used + " bytes after a chunk of "
                            + chunk.length + " (one PDU is at most " + onePdu + ")");
                }
            }
        } finally {
            try {
                ch.finishAndReleaseAll();
            } catch (PduException e) {
                if (error == null) {
                    error = e.getMessage();
                }
            }
        }
        if (Guards.used(alloc) != 0) {
            throw new AssertionError(what + ": " + Guards.used(alloc) + " bytes still allocated after the channel closed (leak)");
        }
        if (bhs.size() != expected.bhs().size()) {
            throw new AssertionError(what + ": decoded " + bhs.size() + " PDUs, the reference framer " + expected.bhs().size()
                    + " (decoder error: " + error + ", reference error: " + expected.error() + ")");
        }
        for (int i = 0; i < bhs.size(); i++) {
            if (!Arrays.equals(bhs.get(i), expected.bhs().get(i)) || !Arrays.equals(data.get(i), expected.data().get(i))) {
                throw new AssertionError(what + ": PDU " + i + " differs from the reference framer's: "
                        + Wire.hex(bhs.get(i)) + " vs " + Wire.hex(expected.bhs().get(i)));
            }
        }
        if ((error != null) != (expected.error() != null)) {
            throw new AssertionError(what + ": decoder error \"" + error + "\", reference error \"" + expected.error() + "\"");
        }
    }

    private static void drain(EmbeddedChannel ch, List<byte[]> bhs, List<byte[]> data, int maxData, String what) {
        for (Object m; (m = ch.readInbound()) != null; ) {
            if (!(m instanceof Pdu pdu)) {
                Guards.releaseAll(List.of(m));
                throw new AssertionError(what + ": the decoder produced a " + m.getClass().getName());
            }
            try {
                if (pdu.dataSegmentLength() > maxData || pdu.data().readableBytes() != pdu.dataSegmentLength()
                        || pdu.bhs().readableBytes() != Wire.BHS || pdu.ahsLength() % 4 != 0) {
                    throw new AssertionError(what + ": inconsistent PDU " + pdu);
                }
                bhs.add(ByteBufUtil.getBytes(pdu.bhs()));
                data.add(ByteBufUtil.getBytes(pdu.data()));
            } finally {
                pdu.release();
            }
        }
    }
}
