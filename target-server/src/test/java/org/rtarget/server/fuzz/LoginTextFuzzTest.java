package org.rtarget.server.fuzz;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.ShrinkingMode;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;
import org.rtarget.server.iscsi.login.BinaryValue;
import org.rtarget.server.iscsi.login.NegotiationKey;
import org.rtarget.server.iscsi.login.Negotiator;
import org.rtarget.server.iscsi.login.SessionParams;
import org.rtarget.server.iscsi.login.TextKeys;

/**
 * (c) The login text: TextKeys.parse and the Negotiator on random key=value text (known and unknown
 * keys, over-long keys and values, NULs, UTF-8 junk, numbers in every spelling), BinaryValue on
 * junk hex and base64, and whole login conversations on a connection (Login.step, CHAP with correct
 * and junk responses, mutual CHAP, reflected challenges, C-bit continuations). Any text must give
 * answers or a login refusal: never another exception, an answer the RFC does not allow, or a login
 * request left without a response.
 */
class LoginTextFuzzTest {
    private static final HexFormat HEX = HexFormat.of();
    private static Guards guards;

    @BeforeContainer
    static void start() {
        guards = new Guards();
    }

    @AfterContainer
    static void stop() {
        try {
            guards.assertNoLeakReported("LoginTextFuzzTest");
        } finally {
            guards.close();
        }
    }

    // ----- random text -----

    private static final String[] KNOWN = {
        "InitiatorName", "InitiatorAlias", "TargetName", "SessionType", "TargetAlias", "TargetAddress",
        "TargetPortalGroupTag", "MaxRecvDataSegmentLength", "AuthMethod", "HeaderDigest", "DataDigest",
        "MaxConnections", "InitialR2T", "ImmediateData", "MaxBurstLength", "FirstBurstLength", "DefaultTime2Wait",
        "DefaultTime2Retain", "MaxOutstandingR2T", "DataPDUInOrder", "DataSequenceInOrder", "ErrorRecoveryLevel",
        "IFMarker", "OFMarker", "IFMarkInt", "OFMarkInt", "TaskReporting", "iSCSIProtocolLevel", "SendTargets",
        "CHAP_A", "CHAP_I", "CHAP_C", "CHAP_N", "CHAP_R", "X-com.example.vendor", "X#foo"
    };
    private static final String[] VALUES = {
        "", "Yes", "No", "None", "CRC32C", "CRC32C,None", "None,CRC32C", ",", "None,,CRC32C", "Reject", "Irrelevant",
        "NotUnderstood", "0", "1", "2", "511", "512", "8192", "65536", "262144", "16776192", "16777215", "16777216",
        "4294967296", "9999999999", "99999999999", "-1", "+5", "0x2000", "0b", "1e3", " 512", "512 ",
        "\u0668\u0661\u0669\u0662", "\uFF18\uFF11\uFF19\uFF12", "\u0665\u0661\u0662", "CHAP,None", "CHAP", "KRB5,SRP",
        "5", "5,6,7,8", "7", "8,abc", "0x", "0X0", "0x" + "ab".repeat(40), "0xabc", "0xZZ", "0b", "0bAAAA", "0B====",
        "0b!!!!", "0x" + "00".repeat(1100), "0b" + "QUFB".repeat(400), "Normal", "Discovery", "normal", "All",
        FuzzTarget.IQN, FuzzTarget.CHAP_IQN, FuzzTarget.USER, "RFC3720", "FastAbort", "ResponseFence", "\u00e9\u00e8",
        "a=b", "\ud83d\ude00"
    };

    /** key=value text as initiators send it, and as they should not. */
    static byte[] randomText(Random r) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int n = r.nextInt(12);
        for (int i = 0; i < n; i++) {
            String key = switch (r.nextInt(12)) {
                case 0 -> "k".repeat(60 + r.nextInt(8));
                case 1 -> "\u00e9".repeat(20 + r.nextInt(50)); // two UTF-8 bytes a character
                case 2 -> "";
                case 3 -> "X-" + Integer.toHexString(r.nextInt());
                default -> KNOWN[r.nextInt(KNOWN.length)];
            };
            String value = switch (r.nextInt(14)) {
                case 0 -> "v".repeat(8180 + r.nextInt(20));
                case 1 -> "\u00e9".repeat(4090 + r.nextInt(10));
                case 2 -> Integer.toString(r.nextInt());
                case 3 -> "0x" + HEX.formatHex(Mutator.randomBytes(r, r.nextInt(40))) + (r.nextBoolean() ? "" : "g");
                default -> VALUES[r.nextInt(VALUES.length)];
            };
            switch (r.nextInt(16)) {
                case 0 -> out.writeBytes(key.getBytes(StandardCharsets.UTF_8)); // no '='
                case 1 -> out.writeBytes(Mutator.randomBytes(r, r.nextInt(20))); // UTF-8 junk, NULs, anything
                case 2 -> out.writeBytes(new byte[] {(byte) 0xC3, 0x28, '=', (byte) 0xFF, (byte) 0xFE}); // invalid UTF-8
                default -> out.writeBytes((key + "=" + value).getBytes(StandardCharsets.UTF_8));
            }
            int sep = r.nextInt(10);
            if (sep < 8) {
                out.write(0);
            } else if (sep == 8) {
                out.writeBytes(new byte[] {0, 0, 0});
            }
        }
        return out.toByteArray();
    }

    /** Distinct keys nobody knows, up to {@code bytes}: each is answered NotUnderstood. */
    static byte[] manyUnknownKeys(Random r, int bytes) {
        List<String> pairs = new ArrayList<>();
        int size = 0;
        boolean shortKeys = r.nextBoolean();
        for (int i = 0; size < bytes - 80; i++) {
            String p = (shortKeys ? "X" + Integer.toString(i, 36) : "X-" + "u".repeat(50) + Integer.toString(i, 36)) + "=";
            pairs.add(p);
            size += p.length() + 1;
        }
        return Wire.text(pairs);
    }

    // ----- TextKeys and Negotiator -----

    @Property(shrinking = ShrinkingMode.OFF)
    void anyTextGivesAnswersOrAProtocolError(@ForAll long seed) throws Exception {
        guards.run(Duration.ofSeconds(30), () -> {
            Random r = new Random(seed);
            byte[] text = randomText(r);
            String what = "seed " + seed + " text " + Wire.hex(text);
            TextKeys keys;
            try {
                keys = TextKeys.parse(Unpooled.wrappedBuffer(text));
            } catch (IllegalArgumentException e) {
                return null; // malformed text: the login answers INITIATOR ERROR
            } catch (Throwable t) {
                throw new AssertionError(what + ": TextKeys.parse threw " + t, t);
            }
            for (TextKeys.Pair p : keys.pairs()) {
                int keyBytes = p.key().getBytes(StandardCharsets.UTF_8).length;
                int valueBytes = p.value().getBytes(StandardCharsets.UTF_8).length;
                if (p.key().indexOf('\uFFFD') >= 0 || p.value().indexOf('\uFFFD') >= 0) {
                    continue; // malformed UTF-8 was replaced: the byte counts of the wire are not known here
                }
                if (p.key().isEmpty() || p.key().indexOf('=') >= 0 || p.key().indexOf(0) >= 0 || p.value().indexOf(0) >= 0
                        || keyBytes > TextKeys.MAX_KEY_LENGTH || valueBytes > TextKeys.MAX_VALUE_LENGTH) {
                    throw new AssertionError(what + ": parse accepted the pair " + abbreviate(p.key()) + " (" + keyBytes
                            + " bytes) = (" + valueBytes + " bytes); RFC 7143 6.1 allows keys of 63 bytes, values of 8192");
                }
            }
            Negotiator negotiator = new Negotiator(FuzzTarget.MAX_RECV, "CRC32C,None");
            TextKeys response = TextKeys.empty();
            SessionParams params;
            try {
                negotiator.negotiate(keys, response);
                negotiator.declareMaxRecvDataSegmentLength(response);
                params = negotiator.params();
            } catch (Throwable t) {
                throw new AssertionError(what + ": the negotiator threw " + t, t);
            }
            checkAnswers(keys, response, what);
            checkParams(params, what);
            // What we answer must read back as the same pairs.
            ByteBuf encoded = Unpooled.buffer();
            response.encode(encoded);
            List<TextKeys.Pair> again = TextKeys.parse(encoded).pairs();
            if (!again.equals(response.pairs())) {
                throw new AssertionError(what + ": our answer " + response + " does not read back");
            }
            return null;
        });
        guards.assertQuiet("seed " + seed);
    }

    private static String abbreviate(String s) {
        return s.length() > 40 ? s.substring(0, 40) + "..." : s;
    }

    private static boolean asciiNumber(String s) {
        if (s.isEmpty()) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) < '0' || s.charAt(i) > '9') {
                return false;
            }
        }
        return true;
    }

    /** Every answer is one the RFC allows for its key and the offers made. */
    private static void checkAnswers(TextKeys request, TextKeys response, String what) {
        for (TextKeys.Pair answer : response.pairs()) {
            String k = answer.key();
            String v = answer.value();
            if (v.equals("NotUnderstood") || v.equals("Reject") || v.equals("Irrelevant")) {
                continue;
            }
            NegotiationKey key = NegotiationKey.byName(k);
            List<String> offers = request.pairs().stream().filter(p -> p.key().equals(k)).map(TextKeys.Pair::value).toList();
            if (key == null) {
                throw new AssertionError(what + ": answered unknown key " + k + " with " + v);
            }
            if (key == NegotiationKey.MAX_RECV_DATA_SEGMENT_LENGTH) {
                continue; // our own declaration
            }
            switch (key.type()) {
                case LIST -> {
                    if (offers.stream().noneMatch(o -> List.of(o.split(",", -1)).contains(v))) {
                        throw new AssertionError(what + ": " + k + "=" + v + " was not offered (" + offers + ")");
                    }
                }
                case MIN, MAX -> {
                    if (!asciiNumber(v) || Long.parseLong(v) < key.min() || Long.parseLong(v) > key.max()) {
                        throw new AssertionError(what + ": " + k + "=" + v + " is out of range");
                    }
                    if (offers.stream().noneMatch(LoginTextFuzzTest::asciiNumber)) {
                        throw new AssertionError(what + ": " + k + " offered as " + offers
                                + ", no decimal number, was answered " + v + " (expected Reject)");
                    }
                }
                case OR, AND -> {
                    if (!v.equals("Yes") && !v.equals("No")) {
                        throw new AssertionError(what + ": " + k + "=" + v);
                    }
                }
                default -> throw new AssertionError(what + ": answered declarative key " + k + "=" + v);
            }
        }
        for (TextKeys.Pair offer : request.pairs()) {
            NegotiationKey key = NegotiationKey.byName(offer.key());
            if (key == NegotiationKey.MAX_RECV_DATA_SEGMENT_LENGTH && !asciiNumber(offer.value())
                    && response.pairs().stream().noneMatch(p -> p.key().equals(offer.key()) && p.value().equals("Reject"))) {
                throw new AssertionError(what + ": MaxRecvDataSegmentLength=" + offer.value() + " taken, not rejected");
            }
        }
    }

    private static void checkParams(SessionParams p, String what) {
        boolean ok = p.initiatorMaxRecvDataSegmentLength() >= 512 && p.initiatorMaxRecvDataSegmentLength() <= 16777215
                && p.maxBurstLength() >= 512 && p.firstBurstLength() >= 512 && p.firstBurstLength() <= p.maxBurstLength()
                && p.maxOutstandingR2T() >= 1 && p.maxConnections() >= 1 && p.errorRecoveryLevel() >= 0
                && p.errorRecoveryLevel() <= 2 && p.defaultTime2Wait() >= 0 && p.defaultTime2Retain() >= 0;
        if (!ok) {
            throw new AssertionError(what + ": negotiated parameters out of range: " + p);
        }
    }

    @Property(shrinking = ShrinkingMode.OFF)
    void binaryValuesDecodeOrAreRefused(@ForAll long seed) {
        Random r = new Random(seed);
        String prefix = new String[] {"0x", "0X", "0b", "0B", "0", "", "0y", "x"}[r.nextInt(8)];
        String body = switch (r.nextInt(5)) {
            case 0 -> HEX.formatHex(Mutator.randomBytes(r, r.nextInt(2000)));
            case 1 -> java.util.Base64.getEncoder().encodeToString(Mutator.randomBytes(r, r.nextInt(2000)));
            case 2 -> new String(Mutator.randomBytes(r, r.nextInt(50)), StandardCharsets.ISO_8859_1);
            case 3 -> HEX.formatHex(Mutator.randomBytes(r, 1 + r.nextInt(20))).substring(r.nextInt(2)) + (r.nextBoolean() ? "" : "=");
            default -> VALUES[r.nextInt(VALUES.length)];
        };
        String text = prefix + body;
        try {
            byte[] v = BinaryValue.decode(text);
            if (prefix.equalsIgnoreCase("0x") && v.length != (body.length() + 1) / 2) {
                throw new AssertionError(text + ": " + v.length + " bytes from " + body.length() + " hex digits");
            }
        } catch (IllegalArgumentException e) {
            if (e.getMessage() != null && !body.isEmpty() && body.length() > 3 && e.getMessage().contains(body)) {
                throw new AssertionError("the refusal quotes the value (it may be a CHAP response): " + e.getMessage());
            }
        } catch (Throwable t) {
            throw new AssertionError(text + ": BinaryValue.decode threw " + t, t);
        }
    }

    // ----- whole logins on a connection -----

    @Property(shrinking = ShrinkingMode.OFF)
    void loginConversationsAnswerEveryRequest(@ForAll long seed) throws Exception {
        guards.run(Duration.ofSeconds(60), () -> {
            FuzzConnection c = new FuzzConnection(new FuzzTarget());
            try {
                conversation(new Random(seed), c.describe(seed));
                return null;
            } finally {
                c.abort();
            }
        });
        guards.assertQuiet("seed " + seed);
    }

    private static void conversation(Random r, FuzzConnection c) {
        String targetName = new String[] {FuzzTarget.IQN, FuzzTarget.CHAP_IQN, FuzzTarget.CHAP_IQN, null, "iqn.nope", ""}
                [r.nextInt(6)];
        long isid = 0x400000000000L | r.nextInt(1 << 16);
        int n = 1 + r.nextInt(6);
        boolean continuing = false;
        for (int i = 0; i < n && c.open() && !c.loggedIn; i++) {
            List<String> keys = new ArrayList<>();
            if (i == 0 || continuing || r.nextInt(8) == 0) {
                if (r.nextInt(12) != 0) {
                    keys.add("InitiatorName=iqn.2026-01.org.rtarget.fuzz:" + (r.nextInt(6) == 0 ? "\u00e9\u0000x" : "ini"));
                }
                if (targetName == null) {
                    keys.add("SessionType=Discovery");
                } else {
                    keys.add("TargetName=" + targetName);
                }
                keys.add("AuthMethod=" + new String[] {"CHAP,None", "None", "CHAP", "None,CHAP", "SRP", ""}[r.nextInt(6)]);
            }
            chap(r, c, keys);
            if (r.nextInt(3) == 0) {
                keys.addAll(ConnectionFuzzTest.loginKeys(r).subList(2, 8));
            }
            for (String k : keys) {
                if (k.startsWith("MaxRecvDataSegmentLength=") && asciiNumber(k.substring(25)) && k.length() < 34) {
                    long v = Long.parseLong(k.substring(25));
                    if (v >= 512 && v <= 16777215) {
                        c.declaredMaxRecv = Math.max(c.declaredMaxRecv, (int) v);
                    }
                }
            }
            byte[] text = Wire.text(keys);
            if (r.nextInt(4) == 0) {
                text = Wire.concat(List.of(text, randomText(r)));
            } else if (r.nextInt(12) == 0) {
                text = Wire.concat(List.of(text, manyUnknownKeys(r, 8000 - text.length)));
            }
            int[] stages = {0x81, 0x81, 0x87, 0x87, 0x83, 0x01, 0x04, 0x40, 0x44, 0xC1, 0x85, 0x8F, 0x82};
            int flags = r.nextInt(10) == 0 ? r.nextInt(256) : stages[r.nextInt(stages.length)];
            continuing = (flags & 0x40) != 0 && (flags & 0x80) == 0;
            byte[] h = c.loginHeader(flags, r.nextInt(20) == 0 ? isid + 1 : isid, r.nextInt(20) == 0 ? 7 : 0, c.itt());
            if (r.nextInt(20) == 0) {
                h[3] = 1; // version-min 1
            }
            int mark = c.received.size();
            c.sendPdu("login flags 0x" + Integer.toHexString(flags) + " " + keys, h, text);
            boolean answered = c.since(mark).stream().anyMatch(p -> p.opcode() == 0x23);
            if (!answered && c.open()) {
                throw c.fail("a login request got no login response, and the connection is open", null);
            }
        }
        c.finish(true);
    }

    /** The initiator's side of CHAP, from what the target said last: right answers, junk, reflection. */
    private static void chap(Random r, FuzzConnection c, List<String> keys) {
        String alg = null;
        String id = null;
        String challenge = null;
        for (FuzzConnection.In p : c.received) {
            if (p.opcode() == 0x23) {
                List<String> pairs = Wire.pairs(p.data());
                if (Wire.value(pairs, "CHAP_C") != null) {
                    alg = Wire.value(pairs, "CHAP_A");
                    id = Wire.value(pairs, "CHAP_I");
                    challenge = Wire.value(pairs, "CHAP_C");
                }
            }
        }
        if (challenge == null) {
            if (r.nextInt(3) != 0) {
                keys.add("CHAP_A=" + new String[] {"5", "7", "8,7,6,5", "6", "99", "", "abc,5", "5,5,5,5"}[r.nextInt(8)]);
            }
            return;
        }
        keys.add("CHAP_N=" + (r.nextInt(8) == 0 ? "mallory" : FuzzTarget.USER));
        String response;
        int k = r.nextInt(10);
        if (k < 6) {
            response = "0x" + HEX.formatHex(chapResponse(alg, Integer.parseInt(id), FuzzTarget.SECRET, BinaryValue.decode(challenge)));
            if (r.nextBoolean()) {
                response = response.toUpperCase().replace("0X", "0x");
            }
        } else {
            response = new String[] {"0x", "0xZZ", "0b!!", "0x" + "00".repeat(1100), "0b" + "QUFB".repeat(400), "", "0x1",
                    challenge}[r.nextInt(8)];
        }
        keys.add("CHAP_R=" + response);
        if (r.nextBoolean()) { // mutual
            keys.add("CHAP_I=" + new String[] {"1", "255", "256", "-1", "0x10", "0x", "x"}[r.nextInt(7)]);
            keys.add("CHAP_C=" + switch (r.nextInt(4)) {
                case 0 -> challenge; // reflection
                case 1 -> "0xZZ";
                default -> "0x" + HEX.formatHex(Mutator.randomBytes(r, 1 + r.nextInt(64)));
            });
        }
    }

    static byte[] chapResponse(String algorithm, int id, String secret, byte[] challenge) {
        String name = switch (algorithm) {
            case "5" -> "MD5";
            case "6" -> "SHA-1";
            case "7" -> "SHA-256";
            default -> "SHA3-256";
        };
        try {
            MessageDigest d = MessageDigest.getInstance(name);
            d.update((byte) id);
            d.update(secret.getBytes(StandardCharsets.UTF_8));
            d.update(challenge);
            return d.digest();
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
