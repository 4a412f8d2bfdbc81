package org.rtarget.server.fuzz;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * PDU bytes for the fuzzers, written independently of the code under test: the seed corpus
 * (src/test/resources/fuzz/seeds), framing with and without digests (RFC 7143 CRC32C, little-endian
 * on the wire), and a reference framer that says what a correct decoder must make of a byte stream.
 */
final class Wire {
    static final int BHS = 48;
    private static final HexFormat HEX = HexFormat.of();

    private Wire() {
    }

    /** One seed PDU: its header (BHS and AHS) and data segment, and the digests of its connection. */
    record Seed(String name, byte[] header, byte[] data, boolean headerDigest, boolean dataDigest) {
        int opcode() {
            return header[0] & 0x3F;
        }

        /** The PDU framed for a connection with the given digests. */
        byte[] framed(boolean hd, boolean dd) {
            return frame(header, data, hd, dd);
        }

        @Override
        public String toString() {
            return name;
        }
    }

    private static List<Seed> seeds;

    /** The seed corpus, in index order. */
    static synchronized List<Seed> seeds() {
        if (seeds == null) {
            List<Seed> all = new ArrayList<>();
            String index = new String(resource("/fuzz/seeds/index.txt"), StandardCharsets.US_ASCII);
            for (String line : index.split("\n")) {
                if (line.isBlank() || line.startsWith("#")) {
                    continue;
                }
                String[] f = line.trim().split("\\s+");
                boolean hd = f[1].equals("1");
                boolean dd = f[2].equals("1");
                byte[] raw = resource("/fuzz/seeds/" + f[0]);
                int ahs = (raw[4] & 0xFF) * 4;
                int dlen = u24(raw, 5);
                int headerEnd = BHS + ahs;
                int dataStart = headerEnd + (hd ? 4 : 0);
                int expected = dataStart + pad(dlen) + (dd && dlen > 0 ? 4 : 0);
                if (expected != raw.length) {
                    throw new IllegalStateException("seed " + f[0] + " is " + raw.length + " bytes, its header says " + expected);
                }
                all.add(new Seed(f[0], Arrays.copyOf(raw, headerEnd), Arrays.copyOfRange(raw, dataStart, dataStart + dlen),
                        hd, dd));
            }
            seeds = List.copyOf(all);
        }
        return seeds;
    }

    static List<Seed> seeds(int opcode) {
        return seeds().stream().filter(s -> s.opcode() == opcode).toList();
    }

    static byte[] resource(String path) {
        try (InputStream in = Wire.class.getResourceAsStream(path)) {
            if (in == null) {
                throw new IllegalStateException("missing test resource " + path);
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static int pad(int n) {
        return (n + 3) & ~3;
    }

    static int u24(byte[] b, int at) {
        return (b[at] & 0xFF) << 16 | (b[at + 1] & 0xFF) << 8 | (b[at + 2] & 0xFF);
    }

    static int u32(byte[] b, int at) {
        return ByteBuffer.wrap(b, at, 4).getInt();
    }

    static void put24(byte[] b, int at, int v) {
        b[at] = (byte) (v >>> 16);
        b[at + 1] = (byte) (v >>> 8);
        b[at + 2] = (byte) v;
    }

    static void put32(byte[] b, int at, int v) {
        ByteBuffer.wrap(b, at, 4).putInt(v);
    }

    static void put64(byte[] b, int at, long v) {
        ByteBuffer.wrap(b, at, 8).putLong(v);
    }

    /** The CRC32C of a range as the value that goes on the wire little-endian. */
    static int crc32c(byte[] b, int from, int length) {
        CRC32C crc = new CRC32C();
        crc.update(b, from, length);
        return (int) crc.getValue();
    }

    static void putDigest(byte[] b, int at, int crc) {
        b[at] = (byte) crc;
        b[at + 1] = (byte) (crc >>> 8);
        b[at + 2] = (byte) (crc >>> 16);
        b[at + 3] = (byte) (crc >>> 24);
    }

    static int digestAt(byte[] b, int at) {
        return (b[at] & 0xFF) | (b[at + 1] & 0xFF) << 8 | (b[at + 2] & 0xFF) << 16 | (b[at + 3] & 0xFF) << 24;
    }

    /**
     * A PDU on the wire: the header (BHS plus AHS, whose length fields are set here from the arrays),
     * digests if asked, the data padded to four bytes.
     */
    static byte[] frame(byte[] header, byte[] data, boolean hd, boolean dd) {
        byte[] h = header.clone();
        h[4] = (byte) ((h.length - BHS) / 4);
        put24(h, 5, data.length);
        return frameAsIs(h, data, hd, dd, data.length);
    }

    /** Frames without touching the header's length fields; {@code dataLength} bytes of {@code data} are sent. */
    static byte[] frameAsIs(byte[] header, byte[] data, boolean hd, boolean dd, int dataLength) {
        int headerEnd = header.length;
        int dataStart = headerEnd + (hd ? 4 : 0);
        int padded = pad(dataLength);
        byte[] out = new byte[dataStart + padded + (dd && dataLength > 0 ? 4 : 0)];
        System.arraycopy(header, 0, out, 0, headerEnd);
        if (hd) {
            putDigest(out, headerEnd, crc32c(out, 0, headerEnd));
        }
        System.arraycopy(data, 0, out, dataStart, Math.min(dataLength, data.length));
        if (dd && dataLength > 0) {
            putDigest(out, dataStart + padded, crc32c(out, dataStart, padded));
        }
        return out;
    }

    /**
     * Makes the digests of a (possibly mutated) frame right again where the frame has room for them,
     * so that a mutation reaches the checks behind the digests.
     */
    static void fixDigests(byte[] frame, boolean hd, boolean dd) {
        if (frame.length < BHS) {
            return;
        }
        int headerEnd = BHS + (frame[4] & 0xFF) * 4;
        if (hd && frame.length >= headerEnd + 4) {
            putDigest(frame, headerEnd, crc32c(frame, 0, headerEnd));
        }
        int dlen = u24(frame, 5);
        int dataStart = headerEnd + (hd ? 4 : 0);
        if (dd && dlen > 0 && frame.length >= dataStart + pad(dlen) + 4) {
            putDigest(frame, dataStart + pad(dlen), crc32c(frame, dataStart, pad(dlen)));
        }
    }

    /** What a correct decoder makes of a stream: the frames before the end or the first error, and the error. */
    record Framing(List<byte[]> bhs, List<byte[]> data, String error, int leftover) {
    }

    /** The reference framer (RFC 7143 section 11; the data segment limit is the receiver's MaxRecvDataSegmentLength). */
    static Framing reference(byte[] stream, boolean hd, boolean dd, int maxData) {
        List<byte[]> bhs = new ArrayList<>();
        List<byte[]> data = new ArrayList<>();
        int at = 0;
        while (stream.length - at >= BHS) {
            int ahs = (stream[at + 4] & 0xFF) * 4;
            int dlen = u24(stream, at + 5);
            int headerEnd = at + BHS + ahs;
            int dataStart = headerEnd + (hd ? 4 : 0);
            if (stream.length < dataStart) {
                break;
            }
            if (hd && digestAt(stream, headerEnd) != crc32c(stream, at, BHS + ahs)) {
                return new Framing(bhs, data, "header digest", stream.length - at);
            }
            if (dlen > maxData) {
                return new Framing(bhs, data, "data segment of " + dlen + " > " + maxData, stream.length - at);
            }
            int end = dataStart + pad(dlen) + (dd && dlen > 0 ? 4 : 0);
            if (stream.length < end) {
                break;
            }
            if (dd && dlen > 0 && digestAt(stream, dataStart + pad(dlen)) != crc32c(stream, dataStart, pad(dlen))) {
                return new Framing(bhs, data, "data digest", stream.length - at);
            }
            bhs.add(Arrays.copyOfRange(stream, at, at + BHS));
            data.add(Arrays.copyOfRange(stream, dataStart, dataStart + dlen));
            at = end;
        }
        return new Framing(bhs, data, null, stream.length - at);
    }

    static byte[] concat(List<byte[]> parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        parts.forEach(out::writeBytes);
        return out.toByteArray();
    }

    static String hex(byte[] b) {
        return hex(b, 0, b.length);
    }

    static String hex(byte[] b, int from, int to) {
        int end = Math.min(to, b.length);
        String h = HEX.formatHex(b, Math.min(from, end), end);
        return h.length() > 400 ? h.substring(0, 400) + "...(" + (end - from) + " bytes)" : h;
    }

    /** key=value pairs, each NUL-terminated, as UTF-8. */
    static byte[] text(List<String> pairs) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (String p : pairs) {
            out.writeBytes(p.getBytes(StandardCharsets.UTF_8));
            out.write(0);
        }
        return out.toByteArray();
    }

    /** The pairs of a text segment, tolerant of anything (the test's own reading, not the target's). */
    static List<String> pairs(byte[] data) {
        List<String> out = new ArrayList<>();
        int start = 0;
        for (int i = 0; i <= data.length; i++) {
            if (i == data.length || data[i] == 0) {
                if (i > start) {
                    out.add(new String(data, start, i - start, StandardCharsets.UTF_8));
                }
                start = i + 1;
            }
        }
        return out;
    }

    static String value(List<String> pairs, String key) {
        for (String p : pairs) {
            if (p.startsWith(key + "=")) {
                return p.substring(key.length() + 1);
            }
        }
        return null;
    }
}
