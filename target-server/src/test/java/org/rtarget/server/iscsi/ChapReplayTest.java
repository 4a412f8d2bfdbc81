package org.rtarget.server.iscsi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.Unpooled;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.rtarget.server.iscsi.login.LoginException;
import org.rtarget.server.iscsi.login.LoginStatus;
import org.rtarget.server.iscsi.login.TextKeys;

/**
 * The recorded libiscsi CHAP logins to tgt (../shared/data/pdu-captures, libiscsi-chap*): given tgt's
 * recorded challenge, the authenticator must accept libiscsi's recorded answer (upper-case hex), refuse
 * the one made with a wrong password, and answer libiscsi's mutual challenge exactly as tgt did.
 */
class ChapReplayTest {
    private static final String REALM = "target iqn.2026-11.test:capture-chap";

    /** tgt's CHAP_I and CHAP_C from a capture, in place of random ones. */
    private static ChapAuthenticator.Challenges recorded(int identifier, String challengeHex) {
        return algorithm -> new ChapAuthenticator.Challenge(identifier, HexFormat.of().parseHex(challengeHex));
    }

    private static TextKeys keys(String... pairs) {
        TextKeys k = TextKeys.empty();
        for (String p : pairs) {
            k.add(p.substring(0, p.indexOf('=')), p.substring(p.indexOf('=') + 1));
        }
        return k;
    }

    /** The keys of a recorded Login Request in src/test/resources/pdus. */
    private static TextKeys recordedKeys(String pdu) {
        return TextKeys.parse(Unpooled.wrappedBuffer(Captures.dataSegment(Captures.pdu(pdu))));
    }

    /** PDUs 1 and 3 of each capture: AuthMethod=CHAP,None then CHAP_A=5; returns the answer to CHAP_A. */
    private static TextKeys negotiate(ChapAuthenticator chap, TextKeys first) throws LoginException {
        TextKeys method = TextKeys.empty();
        assertThat(chap.step(first, method)).isFalse();
        assertThat(method.get("AuthMethod")).isEqualTo("CHAP");
        TextKeys challenge = TextKeys.empty();
        assertThat(chap.step(keys("CHAP_A=5"), challenge)).isFalse();
        assertThat(challenge.get("CHAP_A")).isEqualTo("5");
        return challenge;
    }

    @Test
    void oneWay() throws LoginException {
        ChapAuthenticator chap = new ChapAuthenticator(REALM, ChapLoginTest.ONE_WAY, recorded(1,
                "b605bd1774f615913a1c5ff2d08d8520fec2c4f9a0c400d5bd8154bf26292ad4d6ec4dafca58de336cf3541ca8dd175a89ac"));
        TextKeys challenge = negotiate(chap, keys("AuthMethod=CHAP,None"));
        assertThat(challenge.get("CHAP_I")).isEqualTo("1");
        assertThat(challenge.get("CHAP_C")).isEqualTo("0xb605bd1774f615913a1c5ff2d08d8520fec2c4f9a0c400d5bd8154bf"
                + "26292ad4d6ec4dafca58de336cf3541ca8dd175a89ac");

        TextKeys response = TextKeys.empty();
        assertThat(chap.step(keys("CHAP_N=alice", "CHAP_R=0x70304DE556D819CA2ABC50DDAB779F57"), response)).isTrue();
        assertThat(response.isEmpty()).as("one-way: nothing to prove back").isTrue();
        assertThat(chap.method()).isEqualTo("CHAP MD5");
    }

    @Test
    void badPasswordIsRefused() throws LoginException {
        ChapAuthenticator chap = new ChapAuthenticator(REALM, ChapLoginTest.ONE_WAY, recorded(3,
                "c76bec043ae950af2b8d8e11857f45af85b61c6f9f267d2eda4617f9885c81c4b27d5f6def5a1868aecd036d9b13d152b9e7"));
        negotiate(chap, keys("AuthMethod=CHAP,None"));
        // made with "wrong-password-123"; tgt answered 0x0201
        assertThatThrownBy(() -> chap.step(keys("CHAP_N=alice", "CHAP_R=0x1558EC4348DBE58612870064290F9591"),
                TextKeys.empty()))
                .isInstanceOfSatisfying(LoginException.class,
                        e -> assertThat(e.status()).isEqualTo(LoginStatus.AUTHENTICATION_FAILURE))
                .hasMessageContaining("user alice at " + REALM).hasMessageContaining("wrong CHAP_R");
    }

    @Test
    void mutualAnswersAsTgtDid() throws LoginException {
        ChapAuthenticator chap = new ChapAuthenticator(REALM, ChapLoginTest.MUTUAL, recorded(2,
                "1fada2e5a200ee6e4cc2a7d9b2880b9d7c5b5b9f661e4649cea019cd512bad335f86867139c647a0283df9bcb6e4589e06ee"));
        negotiate(chap, recordedKeys("libiscsi-chap-mutual/0001-c1-I2T-Login-Request.bin"));

        // PDU 5: CHAP_N=alice CHAP_R=0xA76B... CHAP_I=1 CHAP_C=0x1A37...
        TextKeys response = TextKeys.empty();
        assertThat(chap.step(recordedKeys("libiscsi-chap-mutual/0005-c1-I2T-Login-Request.bin"), response)).isTrue();
        // PDU 6, tgt's answer, byte for byte (tgt writes lower-case hex too)
        TextKeys tgt = recordedKeys("libiscsi-chap-mutual/0006-c1-T2I-Login-Response.bin");
        assertThat(response.pairs()).isEqualTo(tgt.pairs());
        assertThat(response.get("CHAP_R")).isEqualTo("0x4b6d8b870512e944162cda8aea63fb24");
        assertThat(chap.method()).isEqualTo("CHAP MD5 mutual");
    }
}
