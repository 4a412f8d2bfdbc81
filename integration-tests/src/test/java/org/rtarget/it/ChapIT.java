package org.rtarget.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * CHAP with real initiators: libiscsi's tools (one-way and mutual), QEMU's iSCSI driver and the Linux
 * kernel initiator (one-way, and mutual with SHA3-256). Wrong secrets, a wrong user, missing
 * credentials and an algorithm the target does not allow end the login with 0x0201 and give no
 * access to data; a target that proves itself with the wrong secret is refused by the initiator.
 * No secret ever reaches the server's log.
 */
class ChapIT {
    static final String IQN = "iqn.2026-11.org.rtarget.test:chap";
    static final String MUTUAL_IQN = "iqn.2026-11.org.rtarget.test:chap-mutual";
    static final String SHA256_IQN = "iqn.2026-11.org.rtarget.test:chap-sha256";
    static final String USER = "alice";
    static final String SECRET = "s3cret-s3cret-s3cret";
    static final String TARGET_USER = "tgtuser";
    static final String TARGET_SECRET = "t4rget-s3cret-s3cret";
    static final String WRONG_SECRET = "wrong-password-123";
    @TempDir
    static Path dir;
    static ServerProcess server;

    @BeforeAll
    static void start() throws Exception {
        Tools.require("iscsi-inq", "libiscsi-bin");
        Files.createDirectories(dir.resolve("secrets"));
        Files.writeString(dir.resolve("secrets/alice"), SECRET + "\n");
        server = ServerProcess.start(dir, """
                server:
                  portals: ["127.0.0.1:0"]
                  admin: "127.0.0.1:0"
                targets:
                  - iqn: %s
                    auth:
                      chap: {user: %s, secret-file: secrets/alice}
                    luns:
                      - {lun: 0, name: chap-disk, backend: memory, size: 256M}
                  - iqn: %s
                    auth:
                      chap: {user: %s, secret: %s}
                      mutual: {user: %s, secret: %s}
                    luns:
                      - {lun: 0, name: chap-mutual-disk, backend: memory, size: 64M}
                  - iqn: %s
                    auth:
                      chap: {user: %s, secret: %s}
                      algorithms: [sha256]
                    luns:
                      - {lun: 0, name: chap-sha256-disk, backend: memory, size: 16M}
                """.formatted(IQN, USER, MUTUAL_IQN, USER, SECRET, TARGET_USER, TARGET_SECRET,
                SHA256_IQN, USER, SECRET));
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            String log = server.log();
            server.close();
            assertThat(log).as("the server log").doesNotContain(SECRET, TARGET_SECRET, WRONG_SECRET);
        }
    }

    /** libiscsi's URL with CHAP credentials: iscsi://user%secret@portal/iqn/lun. */
    private static String url(String user, String secret, String iqn) {
        return "iscsi://" + user + "%" + secret + "@" + server.portal() + "/" + iqn + "/0";
    }

    /** iscsi-inq with libiscsi's variables for the target's (mutual) account. */
    private static Tools.Result inquiryMutual(String targetSecret, String iqn) throws Exception {
        return Tools.run(30, "env", "LIBISCSI_CHAP_TARGET_USERNAME=" + TARGET_USER,
                "LIBISCSI_CHAP_TARGET_PASSWORD=" + targetSecret, "iscsi-inq", url(USER, SECRET, iqn));
    }

    private static long loginsTo(String iqn) {
        return server.log().lines().filter(l -> l.contains("-> " + iqn + " logged in")).count();
    }

    private static void assertAuthenticationFailure(Tools.Result r) {
        assertThat(r.exitCode()).isNotZero();
        assertThat(r.output()).contains("Authentication failure(513)").doesNotContain("Vendor:");
    }

    @Test
    void libiscsiOneWay() throws Exception {
        String out = Tools.run(30, "iscsi-inq", url(USER, SECRET, IQN)).ok().output();
        assertThat(out).contains("Vendor:RTARGET");
        assertThat(server.log()).containsPattern("-> " + IQN + " logged in from \\S+ \\(AuthMethod=CHAP MD5 ");
    }

    @Test
    void libiscsiMutual() throws Exception {
        String out = inquiryMutual(TARGET_SECRET, MUTUAL_IQN).ok().output();
        assertThat(out).contains("Vendor:RTARGET");
        assertThat(server.log()).contains("-> " + MUTUAL_IQN + " logged in", "AuthMethod=CHAP MD5 mutual");
    }

    @Test
    void libiscsiRefusesATargetThatProvesItselfWithTheWrongSecret() throws Exception {
        long before = loginsTo(MUTUAL_IQN);
        Tools.Result r = inquiryMutual("wrong-target-secret", MUTUAL_IQN);
        assertThat(r.exitCode()).isNotZero();
        assertThat(r.output()).contains("Invalid CHAP_R response from the target").doesNotContain("Vendor:");
        assertThat(loginsTo(MUTUAL_IQN)).as("sessions to the mutual target").isEqualTo(before);
    }

    @Test
    void mutualIsRefusedWhereTheTargetHasNoMutualAccount() throws Exception {
        assertAuthenticationFailure(inquiryMutual(TARGET_SECRET, IQN));
        assertThat(server.log()).contains("the initiator asks for mutual CHAP, which is not configured");
    }

    @Test
    void aWrongSecretIsRefused() throws Exception {
        assertAuthenticationFailure(Tools.run(30, "iscsi-inq", url(USER, WRONG_SECRET, IQN)));
        assertThat(server.log()).contains("refused: 0x0201 authentication failure: user alice at target " + IQN
                + ": wrong CHAP_R (MD5)");
    }

    @Test
    void aWrongUserIsRefused() throws Exception {
        assertAuthenticationFailure(Tools.run(30, "iscsi-inq", url("mallory", SECRET, IQN)));
        assertThat(server.log()).contains("user mallory at target " + IQN + ": unknown CHAP user");
    }

    @Test
    void missingCredentialsAreRefused() throws Exception {
        assertAuthenticationFailure(Tools.run(30, "iscsi-inq", server.url(IQN, 0)));
        // The same with our raw client, straight to the operational stage: the status on the wire.
        try (RawInitiator raw = RawInitiator.connect(server.port())) {
            assertThat(raw.sendLogin("iqn.2026-11.org.rtarget.test:raw", IQN, 0x0000_1111_2222L))
                    .isEqualTo(0x0201);
            assertThat(raw.closedByServer(5000)).isTrue();
        }
    }

    @Test
    void anAlgorithmTheTargetDoesNotAllowIsRefused() throws Exception {
        // libiscsi offers only MD5 (CHAP_A=5); this target allows SHA-256 only
        assertAuthenticationFailure(Tools.run(30, "iscsi-inq", url(USER, SECRET, SHA256_IQN)));
        assertThat(server.log()).contains("the initiator offered CHAP_A=5; target " + SHA256_IQN + " allows sha256");
    }

    @Test
    void qemuRoundTripWithChap() throws Exception {
        Tools.require("qemu-io", "qemu-utils qemu-block-extra");
        List<QemuIo.Region> regions = QemuIo.randomRegions(42, 256L << 20, 16, 1 << 20, 4 << 20);
        QemuIo.run(qemuOpen(SECRET), QemuIo.writeThenVerify(regions), regions.size(), regions.size());
    }

    @Test
    void qemuWithAWrongPasswordGetsNoData() throws Exception {
        Tools.require("qemu-io", "qemu-utils qemu-block-extra");
        List<String> cmd = Tools.list("qemu-io");
        cmd.addAll(qemuOpen(WRONG_SECRET));
        cmd.addAll(List.of("-c", "read 0 4k"));
        Tools.Result r = Tools.run(60, cmd);
        assertThat(r.exitCode()).isNotZero();
        assertThat(r.output()).contains("Authentication failure(513)").doesNotContain("read 4096/4096");
    }

    /** qemu-io's arguments for the one-way target, the password passed as a secret object (QEMU's way). */
    private static List<String> qemuOpen(String password) {
        return List.of("--object", "secret,id=chapsecret,data=" + password, "--image-opts",
                "driver=raw,file.driver=iscsi,file.transport=tcp,file.portal=" + server.portal() + ",file.target="
                        + IQN + ",file.lun=0,file.user=" + USER + ",file.password-secret=chapsecret");
    }

    @Test
    void discoveryAuthGuardsSendTargets() throws Exception {
        try (ServerProcess guarded = ServerProcess.start(dir.resolve("discovery"), """
                server:
                  portals: ["127.0.0.1:0"]
                  admin: "127.0.0.1:0"
                  discovery-auth:
                    chap: {user: disco, secret: d1sc0very-s3cret}
                targets:
                  - iqn: %s
                    luns:
                      - {lun: 0, name: discovery-disk, backend: memory, size: 16M}
                """.formatted(IQN))) {
            Tools.Result refused = Tools.run(30, "iscsi-ls", "iscsi://" + guarded.portal());
            assertThat(refused.exitCode()).isNotZero();
            assertThat(refused.output()).doesNotContain("Target:" + IQN);
            String listed = Tools.run(30, "iscsi-ls", "iscsi://disco%d1sc0very-s3cret@" + guarded.portal())
                    .ok().output();
            assertThat(listed).contains("Target:" + IQN);
            assertThat(guarded.log()).contains("(discovery) logged in", "AuthMethod=CHAP MD5")
                    .contains("discovery requires CHAP").doesNotContain("d1sc0very-s3cret");
        }
    }

    // ----- the Linux kernel initiator -----

    private static Tools.Result kernelInitiator(String iqn, String... env) throws Exception {
        Path script = dir.resolve("chap.sh");
        try (InputStream in = ChapIT.class.getResourceAsStream("/guest/chap.sh")) {
            Files.copy(in, script, StandardCopyOption.REPLACE_EXISTING);
        }
        List<String> cmd = Tools.list(Tools.shared().resolve("tools/kernel-initiator").toString(),
                "--portal", server.portal(), "--iqn", iqn, "--timeout", "600", "--no-login", "--script",
                script.toString());
        for (String e : env) {
            cmd.addAll(List.of("--env", e));
        }
        return Tools.run(700, cmd);
    }

    @Test
    void kernelOneWayAfterAWrongPasswordWasRefused() throws Exception {
        Tools.Result r = kernelInitiator(IQN, "CHAP_USER=" + USER, "CHAP_SECRET=" + SECRET,
                "CHAP_BAD_SECRET=" + WRONG_SECRET);
        assertThat(r.output()).as(tail(r.output())).contains("KI-RESULT: PASS", "[chap] all checks passed")
                .contains("[chap] wrong secret: iscsiadm: initiator reported error (24 - iSCSI login failed due to"
                        + " authorization failure)");
        assertThat(r.exitCode()).isZero();
        assertThat(server.log()).contains("(iqn.1993-08.org.debian:01:kernel-initiator) refused: 0x0201")
                .containsPattern("kernel-initiator.*-> " + IQN + " logged in .*AuthMethod=CHAP MD5 ");
    }

    /** Mutual CHAP with each algorithm open-iscsi has alone, then with its full list: the strongest wins. */
    @Test
    void kernelMutualWithEachAlgorithmAndTheStrongestOfAll() throws Exception {
        Tools.Result r = kernelInitiator(MUTUAL_IQN, "CHAP_USER=" + USER, "CHAP_SECRET=" + SECRET,
                "CHAP_USER_IN=" + TARGET_USER, "CHAP_SECRET_IN=" + TARGET_SECRET,
                "CHAP_EACH_ALG=MD5 SHA1 SHA256", "CHAP_ALGS=SHA3-256,SHA256,SHA1,MD5");
        assertThat(r.output()).as(tail(r.output())).contains("KI-RESULT: PASS", "[chap] all checks passed",
                "[chap] logged in with MD5 alone", "[chap] logged in with SHA1 alone",
                "[chap] logged in with SHA256 alone");
        assertThat(r.exitCode()).isZero();
        List<String> logins = server.log().lines()
                .filter(l -> l.contains("kernel-initiator") && l.contains("-> " + MUTUAL_IQN + " logged in")).toList();
        assertThat(logins).as("the kernel's logins, in order").hasSize(4);
        assertThat(logins.get(0)).contains("AuthMethod=CHAP MD5 mutual ");
        assertThat(logins.get(1)).contains("AuthMethod=CHAP SHA-1 mutual ");
        assertThat(logins.get(2)).contains("AuthMethod=CHAP SHA-256 mutual ");
        assertThat(logins.get(3)).contains("AuthMethod=CHAP SHA3-256 mutual ");
    }

    private static String tail(String s) {
        return s.length() > 4000 ? s.substring(s.length() - 4000) : s;
    }
}
