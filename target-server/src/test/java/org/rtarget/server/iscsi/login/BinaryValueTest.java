package org.rtarget.server.iscsi.login;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class BinaryValueTest {

    @Test
    void hexInEitherCase() {
        assertThat(BinaryValue.decode("0x70304DE5")).containsExactly(0x70, 0x30, 0x4d, 0xe5);
        assertThat(BinaryValue.decode("0X70304de5")).containsExactly(0x70, 0x30, 0x4d, 0xe5);
    }

    @Test
    void oddHexHasALeadingZero() {
        assertThat(BinaryValue.decode("0xabc")).containsExactly(0x0a, 0xbc);
    }

    @Test
    void base64() {
        assertThat(BinaryValue.decode("0bcDBN5Q==")).containsExactly(0x70, 0x30, 0x4d, 0xe5);
        assertThat(BinaryValue.decode("0BcDBN5Q")).as("padding optional").containsExactly(0x70, 0x30, 0x4d, 0xe5);
    }

    @Test
    void encodesLowerCaseHex() {
        assertThat(BinaryValue.encodeHex(new byte[] {0x4b, 0x6d, (byte) 0x8b})).isEqualTo("0x4b6d8b");
    }

    @Test
    void malformedValuesAreRefusedWithoutQuotingThem() {
        for (String bad : new String[] {"", "0x", "1234", "0y12", "0xG1", "0b!!!", "s3cret"}) {
            assertThatThrownBy(() -> BinaryValue.decode(bad)).as(bad).isInstanceOf(IllegalArgumentException.class)
                    .satisfies(e -> {
                        if (bad.length() > 2) {
                            assertThat(e.getMessage()).doesNotContain(bad.substring(2));
                        }
                    });
        }
    }
}
