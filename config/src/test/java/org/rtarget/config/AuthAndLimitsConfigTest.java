package org.rtarget.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.EnumSet;
import org.junit.jupiter.api.Test;

/** The keys of CHAP algorithms ({@code auth.algorithms}) and of session limits ({@code server.max-sessions-*}). */
class AuthAndLimitsConfigTest {

    private static final Path BASE = Path.of("/srv/rtarget");

    private static Config parse(String yaml) throws ConfigException {
        return ConfigLoader.parse(yaml, "targets.yaml", BASE);
    }

    private static String targetWithAuth(String authLines) {
        return """
                targets:
                  - iqn: iqn.2026-11.org.example:a
                    auth:
                      chap: {user: alice, secret: twelve-chars}
                """ + authLines + """
                    luns:
                      - {lun: 0, name: vol0, backend: memory, size: 1M}
                """;
    }

    @Test
    void withoutAlgorithmsEveryOneIsAllowed() throws ConfigException {
        AuthConfig auth = parse(targetWithAuth("")).targets().getFirst().auth();
        assertThat(auth.algorithms()).containsExactly(ChapDigest.values());
    }

    @Test
    void algorithmsAreReadInAnyOrder() throws ConfigException {
        AuthConfig auth = parse(targetWithAuth("      algorithms: [sha256, md5, sha3-256]\n")).targets().getFirst().auth();
        assertThat(auth.algorithms()).isEqualTo(EnumSet.of(ChapDigest.MD5, ChapDigest.SHA256, ChapDigest.SHA3_256));
    }

    @Test
    void algorithmsForDiscoveryToo() throws ConfigException {
        Config config = parse("""
                server:
                  discovery-auth:
                    chap: {user: disco, secret: twelve-chars}
                    algorithms: [sha1]
                """);
        assertThat(config.server().discoveryAuth().algorithms()).containsExactly(ChapDigest.SHA1);
    }

    @Test
    void anUnknownAlgorithmIsAnError() {
        // line 5 is "      algorithms: [sha512]": the item starts at column 20
        assertThat(ConfigErrorsTest.errors(targetWithAuth("      algorithms: [sha512]\n"))).containsExactly(
                "targets.yaml:5:20: targets[0].auth.algorithms[0]: \"sha512\" is not a CHAP algorithm"
                        + " (expected md5, sha1, sha256, sha3-256)");
    }

    @Test
    void anEmptyListIsAnError() {
        assertThat(ConfigErrorsTest.errors(targetWithAuth("      algorithms: []\n"))).containsExactly(
                "targets.yaml:5:19: targets[0].auth.algorithms: must not be empty (leave algorithms out to allow"
                        + " every one)");
    }

    @Test
    void aRepeatedAlgorithmIsAnError() {
        assertThat(ConfigErrorsTest.errors(targetWithAuth("      algorithms: [md5, sha1, md5]\n"))).containsExactly(
                "targets.yaml:5:19: targets[0].auth.algorithms: lists md5 twice");
    }

    @Test
    void sessionLimitsHaveDefaults() throws ConfigException {
        ServerConfig server = parse("server:\n  standby-check: true\n").server();
        assertThat(server.maxSessionsPerTarget()).isEqualTo(64);
        assertThat(server.maxSessionsPerInitiator()).isEqualTo(16);
        assertThat(ServerConfig.defaults(BASE).maxSessionsPerTarget()).isEqualTo(64);
    }

    @Test
    void sessionLimitsAreRead() throws ConfigException {
        ServerConfig server = parse("""
                server:
                  max-sessions-per-target: 2
                  max-sessions-per-initiator: 1
                """).server();
        assertThat(server.maxSessionsPerTarget()).isEqualTo(2);
        assertThat(server.maxSessionsPerInitiator()).isEqualTo(1);
    }

    @Test
    void sessionLimitsOutOfRangeAreErrors() {
        assertThat(ConfigErrorsTest.errors("""
                server:
                  max-sessions-per-target: 0
                  max-sessions-per-initiator: 70000
                """)).containsExactly(
                "targets.yaml:2:28: server.max-sessions-per-target: must be 1..65535, got 0",
                "targets.yaml:3:31: server.max-sessions-per-initiator: must be 1..65535, got 70000");
    }

    @Test
    void aChangedLimitShowsInTheReloadSummary() throws ConfigException {
        Config before = parse("server:\n  max-sessions-per-target: 8\n");
        Config after = parse("server:\n  max-sessions-per-target: 9\n");
        assertThat(ConfigDiff.between(before, after).summary())
                .containsExactly("server: max-sessions-per-target 8 -> 9");
    }
}
