package org.rtarget.server.fuzz;

import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Byte-level mutations in the manner of coverage-less fuzzers (bit flips, interesting values,
 * length fields set to large or odd values, truncation, splicing), driven by a {@link Random} that
 * jqwik seeds, so every input can be reproduced from the property's seed.
 */
final class Mutator {
    /** Values that break length and offset arithmetic. */
    static final int[] INTERESTING_INTS = {
        0, 1, 2, 3, 4, 7, 8, 47, 48, 49, 255, 256, 511, 512, 513, 1023, 1024, 4095, 4096, 8191, 8192, 8193,
        65535, 65536, 65537, 262143, 262144, 262145, 1 << 20, (1 << 20) + 1, 8 << 20, (8 << 20) + 1,
        16776192, 16777215, 16777216, 0x7FFFFFFE, 0x7FFFFFFF, 0x80000000, 0x80000001, 0xFFFFFFFE, 0xFFFFFFFF
    };
    static final int[] INTERESTING_BYTES = {0x00, 0x01, 0x03, 0x04, 0x3F, 0x40, 0x7F, 0x80, 0x81, 0xC0, 0xFE, 0xFF};
    /** Data segment lengths around the limits a target negotiates. */
    static final int[] INTERESTING_DSL = {
        0, 1, 2, 3, 5, 47, 48, 511, 512, 513, 8191, 8192, 8193, 65536, 262143, 262144, 262145, 0xFFFFFF
    };

    private Mutator() {
    }

    static int interestingInt(Random r) {
        return r.nextInt(4) == 0 ? r.nextInt() : INTERESTING_INTS[r.nextInt(INTERESTING_INTS.length)];
    }

    static byte[] randomBytes(Random r, int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        return b;
    }

    /** One to a few mutations of a whole PDU frame (header, digests and data alike). */
    static byte[] mutate(Random r, byte[] in, List<byte[]> others) {
        byte[] b = in.clone();
        int rounds = 1 + (r.nextInt(3) == 0 ? r.nextInt(4) : 0);
        for (int i = 0; i < rounds; i++) {
            b = once(r, b, others);
        }
        return b;
    }

    private static byte[] once(Random r, byte[] b, List<byte[]> others) {
        if (b.length == 0) {
            return randomBytes(r, r.nextInt(64));
        }
        // Header fields are hit more often than data bytes: that is where the parsing is.
        int headerLimit = Math.min(b.length, Wire.BHS);
        switch (r.nextInt(12)) {
            case 0 -> { // bit flips
                int n = 1 + r.nextInt(4);
                for (int k = 0; k < n; k++) {
                    int at = r.nextBoolean() ? r.nextInt(headerLimit) : r.nextInt(b.length);
                    b[at] ^= (byte) (1 << r.nextInt(8));
                }
            }
            case 1 -> b[r.nextInt(headerLimit)] = (byte) INTERESTING_BYTES[r.nextInt(INTERESTING_BYTES.length)];
            case 2 -> b[r.nextInt(b.length)] = (byte) r.nextInt(256);
            case 3 -> { // DataSegmentLength
                if (b.length >= 8) {
                    int v = r.nextBoolean() ? INTERESTING_DSL[r.nextInt(INTERESTING_DSL.length)]
                            : Math.max(0, Wire.u24(b, 5) + r.nextInt(9) - 4);
                    Wire.put24(b, 5, v);
                }
            }
            case 4 -> { // TotalAHSLength
                if (b.length >= 5) {
                    b[4] = (byte) (r.nextBoolean() ? r.nextInt(4) : INTERESTING_BYTES[r.nextInt(INTERESTING_BYTES.length)]);
                }
            }
            case 5 -> { // a 32-bit field of the BHS (ITT, TTT/EDTL, CmdSN, ExpStatSN, DataSN, offset, CDB words)
                if (b.length >= Wire.BHS) {
                    Wire.put32(b, 4 * (2 + r.nextInt(10)), interestingInt(r));
                }
            }
            case 6 -> { // opcode and flags
                if (r.nextBoolean()) {
                    b[0] = (byte) ((b[0] & 0xC0) | r.nextInt(64));
                } else if (b.length > 1) {
                    b[1] = (byte) r.nextInt(256);
                }
            }
            case 7 -> { // truncate
                return Arrays.copyOf(b, r.nextInt(b.length));
            }
            case 8 -> { // insert random bytes
                int at = r.nextInt(b.length + 1);
                byte[] ins = randomBytes(r, 1 + r.nextInt(r.nextBoolean() ? 4 : 64));
                byte[] out = new byte[b.length + ins.length];
                System.arraycopy(b, 0, out, 0, at);
                System.arraycopy(ins, 0, out, at, ins.length);
                System.arraycopy(b, at, out, at + ins.length, b.length - at);
                return out;
            }
            case 9 -> { // delete a range
                int at = r.nextInt(b.length);
                int n = 1 + r.nextInt(Math.min(64, b.length - at));
                byte[] out = new byte[b.length - n];
                System.arraycopy(b, 0, out, 0, at);
                System.arraycopy(b, at + n, out, at, b.length - at - n);
                return out;
            }
            case 10 -> { // splice: the head of this one, the tail of another
                if (!others.isEmpty()) {
                    byte[] o = others.get(r.nextInt(others.size()));
                    int cut = r.nextInt(b.length + 1);
                    int from = o.length == 0 ? 0 : r.nextInt(o.length);
                    byte[] out = Arrays.copyOf(b, cut + o.length - from);
                    System.arraycopy(o, from, out, cut, o.length - from);
                    return out;
                }
            }
            default -> { // the CDB or text bytes: a run of one value
                int at = r.nextInt(b.length);
                int n = 1 + r.nextInt(Math.min(16, b.length - at));
                Arrays.fill(b, at, at + n, (byte) INTERESTING_BYTES[r.nextInt(INTERESTING_BYTES.length)]);
            }
        }
        return b;
    }

    /** Cuts a stream into chunks: whole, byte by byte, or at random places. */
    static List<byte[]> chunk(Random r, byte[] stream) {
        java.util.ArrayList<byte[]> chunks = new java.util.ArrayList<>();
        int mode = r.nextInt(4);
        int at = 0;
        while (at < stream.length) {
            int n = switch (mode) {
                case 0 -> stream.length;
                case 1 -> 1 + r.nextInt(3);
                case 2 -> 1 + r.nextInt(64);
                default -> 1 + r.nextInt(Math.max(1, stream.length / 2));
            };
            n = Math.min(n, stream.length - at);
            chunks.add(Arrays.copyOfRange(stream, at, at + n));
            at += n;
        }
        if (chunks.isEmpty() || r.nextInt(8) == 0) {
            chunks.add(new byte[0]);
        }
        return chunks;
    }
}
