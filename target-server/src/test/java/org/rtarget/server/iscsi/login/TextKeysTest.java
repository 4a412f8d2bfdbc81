package org.rtarget.server.iscsi.login;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.rtarget.server.iscsi.Captures;

/** TextKeys with the login and text data segments of real initiators and of tgt. */
class TextKeysTest {

    private static List<String> asStrings(TextKeys keys) {
        return keys.pairs().stream().map(p -> p.key() + "=" + p.value()).toList();
    }

    private static ByteBuf text(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.UTF_8);
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "libiscsi-discovery-inquiry/0001-c1-I2T-Login-Request.bin",
            "libiscsi-discovery-inquiry/0003-c1-I2T-Text-Request.bin",
            "libiscsi-discovery-inquiry/0004-c1-T2I-Text-Response.bin",
            "libiscsi-discovery-inquiry/0005-c2-I2T-Login-Request.bin",
            "kernel-open-iscsi/0001-c1-I2T-Login-Request.bin",
            "kernel-open-iscsi/0005-c2-I2T-Login-Request.bin",
            "kernel-open-iscsi-digests/0005-c2-I2T-Login-Request.bin",
            "qemu-rw/0001-c1-I2T-Login-Request.bin",
            "qemu-rw-digests/0001-c1-I2T-Login-Request.bin",
            "libiscsi-chap-mutual/0005-c1-I2T-Login-Request.bin",
            "libiscsi-chap-mutual/0006-c1-T2I-Login-Response.bin",
    })
    void capturedTextParsesInOrderAndEncodesToTheSameBytes(String file) {
        byte[] data = Captures.dataSegment(Captures.pdu(file));

        TextKeys keys = TextKeys.parse(Unpooled.wrappedBuffer(data));
        assertThat(asStrings(keys)).isNotEmpty().containsExactlyElementsOf(Captures.pairs(data));

        ByteBuf encoded = Unpooled.buffer();
        keys.encode(encoded);
        assertThat(ByteBufUtil.getBytes(encoded)).isEqualTo(data);
    }

    @Test
    void theDataSegmentWithItsPaddingParsesTheSame() {
        byte[] pdu = Captures.pdu("libiscsi-discovery-inquiry/0001-c1-I2T-Login-Request.bin");
        byte[] data = Captures.dataSegment(pdu);
        assertThat(data.length % 4).isNotZero(); // 395 bytes, padded to 396 on the wire
        ByteBuf padded = Unpooled.wrappedBuffer(pdu, 48, pdu.length - 48);
        assertThat(asStrings(TextKeys.parse(padded))).containsExactlyElementsOf(Captures.pairs(data));
    }

    @Test
    void lookupsOnTheKernelsLogin() {
        TextKeys keys = TextKeys.parse(Unpooled.wrappedBuffer(
                Captures.dataSegment(Captures.pdu("kernel-open-iscsi/0005-c2-I2T-Login-Request.bin"))));
        assertThat(keys.get("InitiatorName")).isEqualTo("iqn.1993-08.org.debian:01:kernel-initiator");
        assertThat(keys.get("TargetName")).isEqualTo("iqn.2026-11.test:capture");
        assertThat(keys.get("MaxBurstLength")).isEqualTo("16776192");
        assertThat(keys.contains("SessionType")).isTrue();
        assertThat(keys.contains("AuthMethod")).isFalse();
        assertThat(keys.get("AuthMethod")).isNull();
    }

    @Test
    void utf8ValuesSurviveTheRoundTrip() {
        TextKeys keys = TextKeys.parse(text("InitiatorAlias=Zürich-\u6771\u4eac\0TargetAlias=\0"));
        assertThat(keys.get("InitiatorAlias")).isEqualTo("Zürich-\u6771\u4eac");
        assertThat(keys.get("TargetAlias")).isEmpty();
        ByteBuf out = Unpooled.buffer();
        keys.encode(out);
        assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo("InitiatorAlias=Zürich-\u6771\u4eac\0TargetAlias=\0");
    }

    @Test
    void aPairWithoutEqualsSignIsRefused() {
        assertThatThrownBy(() -> TextKeys.parse(text("InitiatorName=iqn.x\0SessionType\0")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("SessionType");
    }

    @Test
    void anEmptyKeyIsRefused() {
        assertThatThrownBy(() -> TextKeys.parse(text("=Discovery\0")))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void keysAreLimitedTo63Bytes() {
        String key63 = "X-org.rtarget." + "k".repeat(63 - 14);
        assertThat(key63).hasSize(63);
        assertThat(TextKeys.parse(text(key63 + "=1\0")).get(key63)).isEqualTo("1");
        assertThatThrownBy(() -> TextKeys.parse(text(key63 + "k=1\0")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("63");
    }

    @Test
    void valuesAreLimitedTo8192Bytes() {
        assertThat(TextKeys.parse(text("TargetAlias=" + "a".repeat(8192) + "\0")).get("TargetAlias")).hasSize(8192);
        assertThatThrownBy(() -> TextKeys.parse(text("TargetAlias=" + "a".repeat(8193) + "\0")))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void chapValuesNeverAppearInToString() {
        // Mutual CHAP from libiscsi: the initiator's response and challenge, then tgt's response.
        TextKeys request = TextKeys.parse(Unpooled.wrappedBuffer(
                Captures.dataSegment(Captures.pdu("libiscsi-chap-mutual/0005-c1-I2T-Login-Request.bin"))));
        TextKeys response = TextKeys.parse(Unpooled.wrappedBuffer(
                Captures.dataSegment(Captures.pdu("libiscsi-chap-mutual/0006-c1-T2I-Login-Response.bin"))));
        assertThat(request.get("CHAP_R")).isEqualTo("0xA76B781EED28EE628B4FAA609AD328B5");
        assertThat(response.get("CHAP_R")).isEqualTo("0x4b6d8b870512e944162cda8aea63fb24");

        String logged = request + " " + response;
        for (TextKeys keys : List.of(request, response)) {
            for (TextKeys.Pair p : keys.pairs()) {
                if (p.value().length() >= 4) { // CHAP_I=1 is too short to look for
                    assertThat(logged).doesNotContain(p.value());
                }
            }
        }
        assertThat(logged).doesNotContainIgnoringCase("A76B781EED28EE628B4FAA609AD328B5")
                .doesNotContainIgnoringCase("4b6d8b870512e944162cda8aea63fb24")
                .doesNotContain("1A377F7AB44E4EC7C0CC45042C643CDD");
    }

    @Test
    void toStringStillShowsOrdinaryKeys() {
        TextKeys keys = TextKeys.parse(text("InitiatorName=iqn.a\0CHAP_N=alice\0CHAP_R=0xABCDEF\0"));
        assertThat(keys.toString()).contains("InitiatorName=iqn.a").doesNotContain("alice").doesNotContain("ABCDEF");
    }
}
