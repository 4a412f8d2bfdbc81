package org.rtarget.server.iscsi;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;

/**
 * The recorded PDUs of src/test/resources/pdus (see the README there): single raw PDUs and the
 * initiator-to-target streams of whole captures with their index. Also a tiny key=value text
 * codec for tests, deliberately independent of the code under test.
 */
public final class Captures {

    /** pdus.py's opcode names (the index) to opcode numbers. */
    private static final Map<String, Integer> OPCODES = Map.ofEntries(
            Map.entry("NOP-Out", 0x00), Map.entry("SCSI-Command", 0x01), Map.entry("Task-Mgmt-Request", 0x02),
            Map.entry("Login-Request", 0x03), Map.entry("Text-Request", 0x04), Map.entry("SCSI-Data-Out", 0x05),
            Map.entry("Logout-Request", 0x06));

    private Captures() {
    }

    /** One initiator-to-target PDU of a capture, with what pdus.py says about it. */
    public record CapturedPdu(int n, String connection, String opcodeName, int itt, int dataLength,
                              boolean headerDigest, boolean dataDigest, byte[] raw) {
        public int opcode() {
            Integer op = OPCODES.get(opcodeName);
            if (op == null) {
                throw new IllegalStateException("unexpected opcode name " + opcodeName);
            }
            return op;
        }

        @Override
        public String toString() {
            return "PDU " + n + " " + connection + " " + opcodeName;
        }
    }

    /** A raw PDU file, e.g. {@code "kernel-open-iscsi/0005-c2-I2T-Login-Request.bin"}. */
    public static byte[] pdu(String path) {
        return read("/pdus/" + path, false);
    }

    /** Every initiator-to-target PDU of a capture, in capture order (all connections). */
    public static List<CapturedPdu> initiatorPdus(String capture) {
        byte[] stream = read("/pdus/" + capture + ".i2t.bin.gz", true);
        String index = new String(read("/pdus/" + capture + ".i2t.txt.gz", true), StandardCharsets.US_ASCII);
        List<CapturedPdu> pdus = new ArrayList<>();
        int offset = 0;
        for (String line : index.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            String[] f = line.trim().split(" +");
            int bytes = Integer.parseInt(f[7]);
            pdus.add(new CapturedPdu(Integer.parseInt(f[0]), f[1], f[2], Integer.parseUnsignedInt(f[3].substring(2), 16),
                    Integer.parseInt(f[4]), f[5].equals("1"), f[6].equals("1"),
                    Arrays.copyOfRange(stream, offset, offset + bytes)));
            offset += bytes;
        }
        if (offset != stream.length) {
            throw new IllegalStateException(capture + ": index covers " + offset + " of " + stream.length + " bytes");
        }
        return pdus;
    }

    /** The PDUs of one connection ("c1", "c2", ...). */
    public static List<CapturedPdu> connection(List<CapturedPdu> pdus, String connection) {
        return pdus.stream().filter(p -> p.connection().equals(connection)).toList();
    }

    /** Concatenates raw PDUs into one byte stream, as TCP delivers them. */
    public static byte[] concat(List<CapturedPdu> pdus) {
        ByteBuffer b = ByteBuffer.allocate(pdus.stream().mapToInt(p -> p.raw().length).sum());
        pdus.forEach(p -> b.put(p.raw()));
        return b.array();
    }

    // ----- login/text data segments (PDUs without header digest) -----

    /** The data segment of a raw PDU that has no AHS and no header digest. */
    public static byte[] dataSegment(byte[] pdu) {
        int dlen = (pdu[5] & 0xFF) << 16 | (pdu[6] & 0xFF) << 8 | (pdu[7] & 0xFF);
        return Arrays.copyOfRange(pdu, 48, 48 + dlen);
    }

    /** The key=value pairs of a text data segment, in order ("Key=Value" strings). */
    public static List<String> pairs(byte[] text) {
        List<String> pairs = new ArrayList<>();
        for (String p : new String(text, StandardCharsets.UTF_8).split("\0")) {
            if (!p.isEmpty()) {
                pairs.add(p);
            }
        }
        return pairs;
    }

    /** The value of the first {@code key} in {@code pairs}, or null. */
    public static String value(List<String> pairs, String key) {
        for (String p : pairs) {
            if (p.startsWith(key + "=")) {
                return p.substring(key.length() + 1);
            }
        }
        return null;
    }

    /** Encodes pairs ("Key=Value") as a text data segment: each NUL-terminated. */
    public static byte[] text(List<String> pairs) {
        StringBuilder b = new StringBuilder();
        for (String p : pairs) {
            b.append(p).append('\0');
        }
        return b.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** A copy of a raw PDU (no AHS, no digests) with its data segment replaced. */
    public static byte[] withData(byte[] pdu, byte[] data) {
        byte[] out = new byte[48 + ((data.length + 3) & ~3)];
        System.arraycopy(pdu, 0, out, 0, 48);
        out[5] = (byte) (data.length >>> 16);
        out[6] = (byte) (data.length >>> 8);
        out[7] = (byte) data.length;
        System.arraycopy(data, 0, out, 48, data.length);
        return out;
    }

    /** A copy of a login/text PDU whose pairs were edited by {@code edit}. */
    public static byte[] withPairs(byte[] pdu, java.util.function.UnaryOperator<List<String>> edit) {
        List<String> pairs = new ArrayList<>(pairs(dataSegment(pdu)));
        return withData(pdu, text(edit.apply(pairs)));
    }

    /** Replaces the value of {@code key} (which must be present). */
    public static List<String> replace(List<String> pairs, String key, String value) {
        List<String> out = new ArrayList<>();
        boolean found = false;
        for (String p : pairs) {
            if (p.startsWith(key + "=")) {
                out.add(key + "=" + value);
                found = true;
            } else {
                out.add(p);
            }
        }
        if (!found) {
            throw new IllegalArgumentException(key + " not in " + pairs);
        }
        return out;
    }

    private static byte[] read(String resource, boolean gzip) {
        try (InputStream raw = Captures.class.getResourceAsStream(resource)) {
            if (raw == null) {
                throw new IllegalStateException("missing test resource " + resource);
            }
            try (InputStream in = gzip ? new GZIPInputStream(raw) : raw) {
                return in.readAllBytes();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
