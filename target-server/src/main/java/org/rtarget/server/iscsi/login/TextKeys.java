package org.rtarget.server.iscsi.login;

import io.netty.buffer.ByteBuf;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The key=value text of Login and Text PDUs (RFC 7143 6.1): UTF-8 pairs, each ended by a NUL byte.
 * Parsing is strict about form (a pair without '=' or with an over-long key is a protocol error) and
 * keeps the order the keys were sent in.
 */
public final class TextKeys {
    public static final int MAX_KEY_LENGTH = 63;
    public static final int MAX_VALUE_LENGTH = 8192;

    /** One key and its value as sent. */
    public record Pair(String key, String value) {
    }

    private final List<Pair> pairs;

    private TextKeys(List<Pair> pairs) {
        this.pairs = pairs;
    }

    public static TextKeys empty() {
        return new TextKeys(new ArrayList<>());
    }

    /**
     * Parses a (complete) text data segment.
     *
     * @throws IllegalArgumentException for malformed text, with a message for the log
     */
    public static TextKeys parse(ByteBuf data) {
        List<Pair> pairs = new ArrayList<>();
        int end = data.writerIndex();
        int i = data.readerIndex();
        while (i < end) {
            int nul = data.indexOf(i, end, (byte) 0);
            int stop = nul < 0 ? end : nul;
            if (stop == i) { // padding NULs or an empty pair: skip
                i++;
                continue;
            }
            String pair = utf8(data, i, stop - i);
            int eq = pair.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("text key without '=': " + abbreviate(pair));
            }
            String key = pair.substring(0, eq);
            String value = pair.substring(eq + 1);
            // The limits are in bytes (RFC 7143 6.1), not characters: '=' is one byte, never inside a UTF-8 sequence.
            int keyBytes = data.indexOf(i, stop, (byte) '=') - i;
            if (keyBytes > MAX_KEY_LENGTH) {
                throw new IllegalArgumentException("text key longer than 63 bytes: " + abbreviate(key));
            }
            if (stop - i - keyBytes - 1 > MAX_VALUE_LENGTH) {
                throw new IllegalArgumentException("value of " + key + " longer than 8192 bytes");
            }
            pairs.add(new Pair(key, value));
            i = stop + 1;
        }
        return new TextKeys(pairs);
    }

    /** Strict UTF-8: malformed text would otherwise be echoed back altered (U+FFFD) and longer. */
    private static String utf8(ByteBuf data, int index, int length) {
        try {
            return StandardCharsets.UTF_8.newDecoder().decode(data.nioBuffer(index, length)).toString();
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("text that is not UTF-8");
        }
    }

    public List<Pair> pairs() {
        return pairs;
    }

    /** The value of the first occurrence of {@code key}, or null. */
    public String get(String key) {
        for (Pair p : pairs) {
            if (p.key.equals(key)) {
                return p.value;
            }
        }
        return null;
    }

    public boolean contains(String key) {
        return get(key) != null;
    }

    public TextKeys add(String key, String value) {
        pairs.add(new Pair(key, value));
        return this;
    }

    public boolean isEmpty() {
        return pairs.isEmpty();
    }

    /** The length of {@link #encode}'s output in bytes. */
    public int encodedLength() {
        int n = 0;
        for (Pair p : pairs) {
            n += io.netty.buffer.ByteBufUtil.utf8Bytes(p.key) + io.netty.buffer.ByteBufUtil.utf8Bytes(p.value) + 2;
        }
        return n;
    }

    /** Appends the encoded text (each pair NUL-terminated). */
    public void encode(ByteBuf out) {
        for (Pair p : pairs) {
            out.writeCharSequence(p.key, StandardCharsets.UTF_8);
            out.writeByte('=');
            out.writeCharSequence(p.value, StandardCharsets.UTF_8);
            out.writeByte(0);
        }
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder();
        for (Pair p : pairs) {
            if (!b.isEmpty()) {
                b.append(' ');
            }
            // CHAP secrets never reach a log: only the keys of CHAP responses are shown.
            b.append(p.key).append('=').append(p.key.startsWith("CHAP_") ? "..." : p.value);
        }
        return b.toString();
    }

    private static String abbreviate(String s) {
        return s.length() > 40 ? s.substring(0, 40) + "..." : s;
    }
}
