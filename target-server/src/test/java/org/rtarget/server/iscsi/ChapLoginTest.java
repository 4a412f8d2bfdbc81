package org.rtarget.server.iscsi;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Base64;
import java.util.EnumSet;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.rtarget.config.AuthConfig;
import org.rtarget.config.ChapCredentials;
import org.rtarget.config.ChapDigest;
import org.rtarget.config.SecretSource;

/**
 * CHAP logins on the server's pipeline: the initiator side computes every response itself
 * ({@link ChapInitiator}), so each algorithm is checked against an independent implementation.
 */
class ChapLoginTest {
    static final String USER = "alice";
    static final String SECRET = "s3cret-s3cret-s3cret";
    static final String TARGET_USER = "tgtuser";
    static final String TARGET_SECRET = "t4rget-s3cret-s3cret";

    static final AuthConfig ONE_WAY = new AuthConfig(chap(USER, SECRET), null);
    static final AuthConfig MUTUAL = new AuthConfig(chap(USER, SECRET), chap(TARGET_USER, TARGET_SECRET));

    private TestTarget target;
    private final LogCapture log = new LogCapture();

    @AfterEach
    void close() {
        log.close();
        if (target != null) {
            target.close();
        }
    }

    static ChapCredentials chap(String user, String secret) {
        return new ChapCredentials(user, new SecretSource.Inline(secret));
    }

    private ChapInitiator connect(AuthConfig auth) {
        target = TestTarget.builder().auth(auth).build();
        return new ChapInitiator(target.connect());
    }

    /** The login ended with {@code status}, the connection is closed and no session exists. */
    private void assertRefused(ChapInitiator chap, WirePdu r, int status) {
        assertThat(r.loginStatus()).as("login status").isEqualTo(status);
        assertThat(r.tsih()).isZero();
        chap.ini.channel.runPendingTasks();
        assertThat(chap.ini.channel.isOpen()).as("connection open").isFalse();
        assertThat(target.sessions.all()).isEmpty();
    }

    private void assertNoSecretLogged() {
        assertThat(log.lines()).allSatisfy(line -> assertThat(line).doesNotContain(SECRET, TARGET_SECRET));
    }

    @ParameterizedTest(name = "CHAP_A={0}")
    @CsvSource({"5, 16", "6, 20", "7, 32", "8, 32"})
    void eachAlgorithmLogsInWithAnIndependentlyComputedResponse(int algorithm, int digestLength) {
        ChapInitiator chap = connect(ONE_WAY);
        WirePdu method = chap.start(TestTarget.IQN, "CHAP,None");
        assertThat(method.loginStatus()).isZero();
        assertThat(method.flags()).as("T=0 CSG=Security: no transit before authentication").isZero();
        assertThat(method.keys()).contains("AuthMethod=CHAP", "TargetPortalGroupTag=1");

        ChapInitiator.Challenge c = chap.algorithms(Integer.toString(algorithm));
        assertThat(c.algorithm()).isEqualTo(algorithm);
        assertThat(c.identifier()).isBetween(0, 255);
        assertThat(c.value()).as("challenge as long as the digest").hasSize(digestLength);

        WirePdu answer = chap.send(ChapInitiator.SECURITY_TO_OPERATIONAL, "CHAP_N=" + USER,
                "CHAP_R=" + ChapInitiator.hex(ChapInitiator.response(algorithm, c.identifier(), SECRET, c.value())));
        assertThat(answer.loginStatus()).isZero();
        assertThat(answer.flags()).as("T=1 CSG=Security NSG=Operational").isEqualTo(0x81);
        assertThat(answer.keys()).noneMatch(k -> k.startsWith("CHAP_"));

        WirePdu done = chap.operational();
        assertThat(done.loginStatus()).isZero();
        assertThat(done.flags()).isEqualTo(0x87);
        assertThat(target.sessions.byTsih(done.tsih())).isNotNull();
        assertThat(log.lines()).anyMatch(l -> l.contains("logged in") && l.contains("AuthMethod=CHAP "));
    }

    @ParameterizedTest(name = "offer {0} -> {1}")
    @CsvSource({"'5,6,7,8', 8", "'8,7,6,5', 8", "'5,7', 7", "'6,5', 6", "'5', 5", "'99,5,x', 5"})
    void theStrongestOfferedAlgorithmIsChosen(String offer, int chosen) {
        ChapInitiator chap = connect(ONE_WAY);
        chap.start(TestTarget.IQN, "CHAP");
        assertThat(chap.algorithms(offer).algorithm()).isEqualTo(chosen);
    }

    @Test
    void onlyTheConfiguredAlgorithmsAreChosen() {
        ChapInitiator chap = connect(new AuthConfig(chap(USER, SECRET), null,
                EnumSet.of(ChapDigest.MD5, ChapDigest.SHA1)));
        chap.start(TestTarget.IQN, "CHAP");
        assertThat(chap.algorithms("8,7,6,5").algorithm()).isEqualTo(6);
    }

    @Test
    void anOfferWithoutAnAllowedAlgorithmFails() {
        ChapInitiator chap = connect(new AuthConfig(chap(USER, SECRET), null, EnumSet.of(ChapDigest.SHA256)));
        chap.start(TestTarget.IQN, "CHAP");
        assertRefused(chap, chap.send(ChapInitiator.SECURITY_STAY, "CHAP_A=5"), 0x0201);
        assertThat(log.lines()).anyMatch(l -> l.contains("CHAP_A=5") && l.contains("allows sha256"));
    }

    @Test
    void upperCaseHexAndBase64ResponsesAreAccepted() {
        for (boolean base64 : List.of(false, true)) {
            ChapInitiator chap = connect(ONE_WAY);
            chap.start(TestTarget.IQN, "CHAP,None");
            ChapInitiator.Challenge c = chap.algorithms("5");
            byte[] r = ChapInitiator.response(5, c.identifier(), SECRET, c.value());
            String encoded = base64 ? "0b" + Base64.getEncoder().encodeToString(r) : ChapInitiator.upperHex(r);
            WirePdu answer = chap.send(ChapInitiator.SECURITY_TO_OPERATIONAL, "CHAP_N=" + USER, "CHAP_R=" + encoded);
            assertThat(answer.loginStatus()).as(encoded).isZero();
            assertThat(chap.operational().loginStatus()).isZero();
            target.close();
        }
    }

    @Test
    void mutualChapAnswersTheInitiatorsChallengeWithTheTargetsSecret() {
        ChapInitiator chap = connect(MUTUAL);
        chap.start(TestTarget.IQN, "CHAP,None");
        ChapInitiator.Challenge c = chap.algorithms("7");
        byte[] ours = new byte[32];
        new java.util.Random(7).nextBytes(ours);
        WirePdu answer = chap.send(ChapInitiator.SECURITY_TO_OPERATIONAL, "CHAP_N=" + USER,
                "CHAP_R=" + ChapInitiator.hex(ChapInitiator.response(7, c.identifier(), SECRET, c.value())),
                "CHAP_I=77", "CHAP_C=" + ChapInitiator.hex(ours));

        assertThat(answer.loginStatus()).isZero();
        assertThat(answer.flags()).isEqualTo(0x81);
        assertThat(Captures.value(answer.keys(), "CHAP_N")).isEqualTo(TARGET_USER);
        assertThat(ChapInitiator.decode(Captures.value(answer.keys(), "CHAP_R")))
                .isEqualTo(ChapInitiator.response(7, 77, TARGET_SECRET, ours));
        assertThat(chap.operational().loginStatus()).isZero();
        assertThat(log.lines()).anyMatch(l -> l.contains("AuthMethod=CHAP SHA-256 mutual"));
        assertNoSecretLogged();
    }

    @Test
    void aMutualTargetStillLetsAOneWayInitiatorIn() {
        ChapInitiator chap = connect(MUTUAL);
        assertThat(chap.oneWay(TestTarget.IQN, "5", USER, SECRET).loginStatus()).isZero();
        assertThat(chap.operational().loginStatus()).isZero();
    }

    @Test
    void aReflectedChallengeIsRefused() {
        ChapInitiator chap = connect(MUTUAL);
        chap.start(TestTarget.IQN, "CHAP");
        ChapInitiator.Challenge c = chap.algorithms("5");
        WirePdu answer = chap.send(ChapInitiator.SECURITY_TO_OPERATIONAL, "CHAP_N=" + USER,
                "CHAP_R=" + ChapInitiator.hex(ChapInitiator.response(5, c.identifier(), SECRET, c.value())),
                "CHAP_I=" + c.identifier(), "CHAP_C=" + ChapInitiator.upperHex(c.value()));
        assertRefused(chap, answer, 0x0201);
        assertThat(answer.keys()).as("no target response to a reflected challenge").isEmpty();
        assertThat(log.lines()).anyMatch(l -> l.contains("reflection") && l.contains("user alice"));
    }

    @Test
    void mutualChapIsRefusedWhenTheTargetHasNoMutualCredentials() {
        ChapInitiator chap = connect(ONE_WAY);
        chap.start(TestTarget.IQN, "CHAP");
        ChapInitiator.Challenge c = chap.algorithms("5");
        WirePdu answer = chap.send(ChapInitiator.SECURITY_TO_OPERATIONAL, "CHAP_N=" + USER,
                "CHAP_R=" + ChapInitiator.hex(ChapInitiator.response(5, c.identifier(), SECRET, c.value())),
                "CHAP_I=1", "CHAP_C=0x0102030405060708090a0b0c0d0e0f10");
        assertRefused(chap, answer, 0x0201);
        assertThat(log.lines()).anyMatch(l -> l.contains("mutual CHAP, which is not configured"));
    }

    @Test
    void aWrongSecretIsRefusedWith0201AndOneLogLineNamingUserAndTarget() {
        ChapInitiator chap = connect(ONE_WAY);
        WirePdu answer = chap.oneWay(TestTarget.IQN, "5", USER, "wrong-password-123");
        assertRefused(chap, answer, 0x0201);
        assertThat(log.lines()).filteredOn(l -> l.contains("refused")).singleElement().satisfies(l -> assertThat(l)
                .startsWith("WARN ").contains("0x0201", "user alice", TestTarget.IQN, "wrong CHAP_R")
                .doesNotContain("wrong-password-123"));
        assertNoSecretLogged();
    }

    @Test
    void aWrongUserIsRefused() {
        ChapInitiator chap = connect(ONE_WAY);
        assertRefused(chap, chap.oneWay(TestTarget.IQN, "5", "mallory", SECRET), 0x0201);
        assertThat(log.lines()).anyMatch(l -> l.contains("user mallory") && l.contains("unknown CHAP user"));
    }

    @Test
    void aMalformedResponseIsRefused() {
        ChapInitiator chap = connect(ONE_WAY);
        chap.start(TestTarget.IQN, "CHAP");
        chap.algorithms("5");
        assertRefused(chap, chap.send(ChapInitiator.SECURITY_TO_OPERATIONAL, "CHAP_N=" + USER, "CHAP_R=0xZZ"), 0x0201);
    }

    @Test
    void aResponseWithoutChapNIsRefused() {
        ChapInitiator chap = connect(ONE_WAY);
        chap.start(TestTarget.IQN, "CHAP");
        chap.algorithms("5");
        assertRefused(chap, chap.send(ChapInitiator.SECURITY_TO_OPERATIONAL, "CHAP_R=0x00"), 0x0201);
    }

    @Test
    void offeringOnlyNoneToAChapTargetIsRefused() {
        ChapInitiator chap = connect(ONE_WAY);
        WirePdu r = chap.start(TestTarget.IQN, "None");
        assertRefused(chap, r, 0x0201);
        assertThat(log.lines()).anyMatch(l -> l.contains("requires CHAP") && l.contains("AuthMethod=None"));
    }

    @Test
    void skippingTheSecurityStageOfAChapTargetIsRefused() {
        target = TestTarget.builder().auth(ONE_WAY).build();
        TestInitiator ini = target.connect();
        WirePdu r = ini.login(TestInitiator.normalKeys(TestTarget.IQN, 262144)); // Operational -> FullFeature
        assertThat(r.loginStatus()).isEqualTo(0x0201);
        ini.channel.runPendingTasks();
        assertThat(ini.channel.isOpen()).isFalse();
        assertThat(target.sessions.all()).isEmpty();
        assertThat(log.lines()).anyMatch(l -> l.contains("target " + TestTarget.IQN + " requires CHAP; the initiator"
                + " skipped the security stage"));
    }

    @Test
    void aTargetWithoutAuthStillAcceptsNone() {
        ChapInitiator chap = connect(null);
        WirePdu r = chap.start(TestTarget.IQN, "CHAP,None");
        assertThat(r.keys()).contains("AuthMethod=None");
        assertThat(r.flags()).isEqualTo(0x81);
        assertThat(chap.operational().loginStatus()).isZero();
    }

    @Test
    void anUnreadableSecretIsATargetError() {
        AuthConfig missingFile = new AuthConfig(new ChapCredentials(USER,
                new SecretSource.FromFile(Path.of("/nonexistent/rtarget/secret"))), null);
        ChapInitiator chap = connect(missingFile);
        WirePdu r = chap.oneWay(TestTarget.IQN, "5", USER, SECRET);
        assertRefused(chap, r, 0x0300);
        assertThat(log.lines()).anyMatch(l -> l.contains("cannot read the CHAP secret") && l.contains("no such file"));
    }

    @Test
    void discoveryUsesTheDiscoveryCredentials() {
        target = TestTarget.builder().discoveryAuth(new AuthConfig(chap("disco", "d1sc0very-secret"), null)).build();
        ChapInitiator none = new ChapInitiator(target.connect());
        assertRefused(none, none.startDiscovery("None"), 0x0201);

        ChapInitiator chap = new ChapInitiator(target.connect());
        assertThat(chap.startDiscovery("CHAP,None").keys()).contains("AuthMethod=CHAP");
        ChapInitiator.Challenge c = chap.algorithms("5");
        WirePdu answer = chap.send(ChapInitiator.SECURITY_TO_OPERATIONAL, "CHAP_N=disco",
                "CHAP_R=" + ChapInitiator.hex(ChapInitiator.response(5, c.identifier(), "d1sc0very-secret", c.value())));
        assertThat(answer.loginStatus()).isZero();
        WirePdu done = chap.operational();
        assertThat(done.loginStatus()).isZero();
        assertThat(target.sessions.byTsih(done.tsih()).discovery()).isTrue();
    }

    @Test
    void discoveryWithoutDiscoveryAuthNeedsNoChapEvenIfTargetsDo() {
        target = TestTarget.builder().auth(ONE_WAY).build();
        ChapInitiator chap = new ChapInitiator(target.connect());
        assertThat(chap.startDiscovery("CHAP,None").keys()).contains("AuthMethod=None");
    }
}
