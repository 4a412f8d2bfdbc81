package org.rtarget.server.iscsi;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.EnumSet;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.rtarget.config.ChapDigest;

/** Known answers made outside Java (Python hashlib): identifier 0xa7, secret "kn0wn-answer-secret", challenge 00..1f. */
class ChapAlgorithmTest {

    @ParameterizedTest(name = "{0}")
    @CsvSource({
            "MD5, 5, 48d918f149216f7b65fd2f7129054de1",
            "SHA1, 6, 5c3c66ebf4fc127cf83fb03046a3c9148b6486e6",
            "SHA256, 7, 3c0f7d5b764f466112e19d854ff138f3b9d7077ea0561df79ba7ba08176b81fc",
            "SHA3_256, 8, 84006ca5fddaa8f664130956fb9e083c0e55e5717e38b51037c61089f5d9785e",
    })
    void knownAnswers(ChapAlgorithm algorithm, int code, String expected) {
        byte[] challenge = new byte[32];
        for (int i = 0; i < challenge.length; i++) {
            challenge[i] = (byte) i;
        }
        byte[] response = algorithm.response(0xa7, "kn0wn-answer-secret".getBytes(StandardCharsets.UTF_8), challenge);
        assertThat(HexFormat.of().formatHex(response)).isEqualTo(expected);
        assertThat(algorithm.code()).isEqualTo(code);
        assertThat(algorithm.length()).isEqualTo(expected.length() / 2);
    }

    @Test
    void everyConfigNameHasAnAlgorithm() {
        for (ChapDigest digest : ChapDigest.values()) {
            assertThat(ChapAlgorithm.strongestOf("5,6,7,8", EnumSet.of(digest))).isNotNull();
        }
    }

    @Test
    void noOverlapIsNull() {
        assertThat(ChapAlgorithm.strongestOf("5,6", EnumSet.of(ChapDigest.SHA256))).isNull();
        assertThat(ChapAlgorithm.strongestOf("", EnumSet.allOf(ChapDigest.class))).isNull();
        assertThat(ChapAlgorithm.strongestOf("55", EnumSet.allOf(ChapDigest.class))).as("whole values only").isNull();
    }
}
