package org.rtarget.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * What {@code check-config} prints for bad input: the exact {@code file:line:col: key: message}
 * lines. Columns are counted by hand in the comments of a few cases.
 */
class ConfigErrorsTest {

    private static final Path BASE = Path.of("/srv/rtarget");

    /** The lines an operator sees for this YAML; fails if the YAML is accepted. */
    static List<String> errors(String yaml) {
        try {
            ConfigLoader.parse(yaml, "targets.yaml", BASE);
        } catch (ConfigException e) {
            assertThat(e.getMessage()).isEqualTo(String.join("\n", e.errors().stream().map(ConfigError::toString).toList()));
            return e.errors().stream().map(ConfigError::toString).toList();
        }
        return fail("expected the config to be rejected:\n" + yaml);
    }

    /** One memory LUN whose last line is supplied by the test, at line 7. */
    private static String memoryLunWith(String lastLine) {
        return """
                targets:
                  - iqn: iqn.2026-11.org.example:a
                    luns:
                      - lun: 0
                        name: vol0
                        backend: memory
                """ + "        " + lastLine + "\n";
    }

    @Nested
    class Values {

        @Test
        void sizeThatIsNotASize() {
            // line 7 is "        size: 12XB": 8 spaces + "size: " puts the value at column 15
            assertThat(errors(memoryLunWith("size: 12XB")))
                    .containsExactly("targets.yaml:7:15: targets[0].luns[0].size: \"12XB\" is not a size");
        }

        @Test
        void sizeThatIsNotWholeBytes() {
            assertThat(errors(memoryLunWith("size: 1.3K")))
                    .containsExactly("targets.yaml:7:15: targets[0].luns[0].size: \"1.3K\" is not a whole number of bytes");
        }

        @Test
        void sizeWithoutValue() {
            // an empty value has no text to point at: the column just after "size:"
            assertThat(errors(memoryLunWith("size:")))
                    .containsExactly("targets.yaml:7:14: targets[0].luns[0].size: has no value (expected a size)");
        }

        @Test
        void durationThatIsNotADuration() {
            // "  nop-timeout: " is 15 characters
            assertThat(errors("""
                    server:
                      nop-timeout: soon
                    """)).containsExactly(
                    "targets.yaml:2:16: server.nop-timeout: \"soon\" is not a duration (e.g. 500ms, 60s, 2m, 1h)");
        }

        @Test
        void zeroTimeoutIsRefusedButZeroNopIntervalIsNot() {
            assertThat(errors("""
                    server:
                      nop-interval: 0
                      login-timeout: 0s
                    """)).containsExactly("targets.yaml:3:18: server.login-timeout: must be more than 0");
        }

        @Test
        void booleanThatIsNotABoolean() {
            assertThat(errors("""
                    server:
                      standby-check: maybe
                    """)).containsExactly(
                    "targets.yaml:2:18: server.standby-check: \"maybe\" is not true, false, yes or no");
        }

        @Test
        void blockSizeOtherThan512Or4096() {
            assertThat(errors(memoryLunWith("block-size: 1024").replace("    name: vol0", "    size: 1M\n        name: vol0")))
                    .containsExactly("targets.yaml:8:21: targets[0].luns[0].block-size: must be 512 or 4096, got 1024");
        }

        @Test
        void sizeNotAMultipleOfBlockSize() {
            assertThat(errors(memoryLunWith("size: 6K").replace("    name: vol0", "    block-size: 4096\n        name: vol0")))
                    .containsExactly("targets.yaml:8:15: targets[0].luns[0].size: \"6K\" (6144 bytes) is not a multiple of block-size 4096");
        }

        @Test
        void numbersOutOfRange() {
            assertThat(errors("""
                    server:
                      max-recv-data-segment-length: 511
                    targets:
                      - iqn: iqn.2026-11.org.example:a
                        queue-depth: 4097
                        luns:
                          - {lun: 16384, name: a, backend: memory, size: 1M}
                    """)).containsExactly(
                    "targets.yaml:2:33: server.max-recv-data-segment-length: must be 512..16777215, got 511",
                    "targets.yaml:5:18: targets[0].queue-depth: must be 1..4096, got 4097",
                    "targets.yaml:7:15: targets[0].luns[0].lun: must be 0..16383, got 16384");
        }

        @Test
        void notAnInteger() {
            assertThat(errors("""
                    targets:
                      - iqn: iqn.2026-11.org.example:a
                        queue-depth: deep
                    """)).containsExactly("targets.yaml:3:18: targets[0].queue-depth: \"deep\" is not an integer");
        }

        @Test
        void enumerationsListTheirWords() {
            assertThat(errors("""
                    targets:
                      - iqn: iqn.2026-11.org.example:a
                        luns:
                          - lun: 0
                            name: fast
                            backend: nbd
                            standby-fallback: panic
                            standby-errors: [ebusy, EIOO, EFOO]
                    """)).containsExactly(
                    "targets.yaml:6:18: targets[0].luns[0].backend: \"nbd\" is not a backend (expected memory, file, ploop, ublk)",
                    "targets.yaml:7:27: targets[0].luns[0].standby-fallback: \"panic\" is not a fallback (expected not-ready, drop, hardware-error)",
                    "targets.yaml:8:33: targets[0].luns[0].standby-errors[1]: \"EIOO\" is not an errno name (did you mean EIO?)",
                    "targets.yaml:8:39: targets[0].luns[0].standby-errors[2]: \"EFOO\" is not an errno name (expected one of "
                            + String.join(" ", StandbyConfig.ERRNO_NAMES) + ")");
        }

        @Test
        void driverRecoveryMode() {
            assertThat(errors("""
                    targets:
                      - iqn: iqn.2026-11.org.example:a
                        luns:
                          - lun: 0
                            name: fast
                            backend: ublk
                            size: 1G
                            driver: {command: [drv], recovery: maybe, restart-limit: -1}
                    """)).containsExactly(
                    "targets.yaml:8:44: targets[0].luns[0].driver.recovery: \"maybe\" is not a recovery mode (expected none, queue, reissue, fail-io)",
                    "targets.yaml:8:66: targets[0].luns[0].driver.restart-limit: must be 0..2147483647, got -1");
        }

        @Test
        void portalsAndAdminAddresses() {
            assertThat(errors("""
                    server:
                      portals: ["127.0.0.1:3260", "0.0.0.0:99999", "::1", "127.0.0.1:3260"]
                      admin: "no such host:80"
                    """)).containsExactly(
                    "targets.yaml:2:31: server.portals[1]: port 99999 is not in 0..65535",
                    "targets.yaml:2:48: server.portals[2]: \"::1\": put an IPv6 address in brackets, as in \"[::1]:3260\"",
                    "targets.yaml:2:55: server.portals[3]: duplicate portal 127.0.0.1:3260 (server.portals[0] has it too)",
                    "targets.yaml:3:10: server.admin: \"no such host:80\" is not a host:port (e.g. 127.0.0.1:3260 or [::]:3260)");
        }

        @Test
        void aclAddressesAreCidrs() {
            assertThat(errors("""
                    targets:
                      - iqn: iqn.2026-11.org.example:a
                        acl:
                          - initiator: iqn.1993-08.org.debian:01:host1
                            addresses: [10.0.0.0/8, 10.0.0.256, "fd00::/129", "2001:db8::/32"]
                    """)).containsExactly(
                    "targets.yaml:5:33: targets[0].acl[0].addresses[1]: \"10.0.0.256\" is not an address or CIDR (e.g. 192.0.2.0/24 or 2001:db8::/32)",
                    "targets.yaml:5:45: targets[0].acl[0].addresses[2]: \"fd00::/129\": the prefix length must be 0..128");
        }
    }

    @Nested
    class IscsiNameChecks {

        @ParameterizedTest
        @CsvSource(delimiter = '|', textBlock = """
                iqn.2026-11.org.Example:a  | has upper-case letters; iqn names are lower case
                iqn.2026-13.org.example:a  | is not an iSCSI name (expected iqn.YYYY-MM.reversed.domain[:name], eui.<16 hex digits> or naa.<16 or 32 hex digits>)
                iqn.26-11.org.example      | is not an iSCSI name (expected iqn.YYYY-MM.reversed.domain[:name], eui.<16 hex digits> or naa.<16 or 32 hex digits>)
                eui.0123456789ABCDE        | is not an iSCSI name (expected iqn.YYYY-MM.reversed.domain[:name], eui.<16 hex digits> or naa.<16 or 32 hex digits>)
                naa.0123456789abcdef01     | is not an iSCSI name (expected iqn.YYYY-MM.reversed.domain[:name], eui.<16 hex digits> or naa.<16 or 32 hex digits>)
                store1                     | is not an iSCSI name (expected iqn.YYYY-MM.reversed.domain[:name], eui.<16 hex digits> or naa.<16 or 32 hex digits>)
                """)
        void badTargetNames(String name, String message) {
            // "  - iqn: " is 9 characters
            assertThat(errors("targets:\n  - iqn: " + name + "\n"))
                    .containsExactly("targets.yaml:2:10: targets[0].iqn: \"" + name + "\" " + message);
        }

        @Test
        void nameLongerThan223Bytes() {
            String name = "iqn.2026-11.org.example:" + "x".repeat(200);
            assertThat(errors("targets:\n  - iqn: " + name + "\n"))
                    .containsExactly("targets.yaml:2:10: targets[0].iqn: \"" + name + "\" is longer than 223 bytes");
        }

        @Test
        void initiatorNamesAreCheckedToo() {
            assertThat(errors("""
                    targets:
                      - iqn: iqn.2026-11.org.example:a
                        acl:
                          - initiator: host1
                    """)).containsExactly("targets.yaml:4:20: targets[0].acl[0].initiator: \"host1\" is not an iSCSI name "
                    + "(expected iqn.YYYY-MM.reversed.domain[:name], eui.<16 hex digits> or naa.<16 or 32 hex digits>)");
        }
    }

    @Nested
    class Keys {

        @Test
        void unknownKeySuggestsTheClosestKnownOne() {
            assertThat(errors("""
                    server:
                      portals: ["127.0.0.1:3260"]
                      standby-chek: true
                    """)).containsExactly("targets.yaml:3:3: server.standby-chek: unknown key (did you mean standby-check?)");
        }

        @Test
        void unknownKeyFarFromAnyKnownOne() {
            assertThat(errors("colour: red\n")).containsExactly("targets.yaml:1:1: colour: unknown key");
        }

        @Test
        void unknownLunKey() {
            assertThat(errors(memoryLunWith("blocksize: 4096").replace("    name: vol0", "    size: 1M\n        name: vol0")))
                    .containsExactly("targets.yaml:8:9: targets[0].luns[0].blocksize: unknown key (did you mean block-size?)");
        }

        @Test
        void duplicateKey() {
            assertThat(errors("""
                    server:
                      admin: "127.0.0.1:8080"
                      admin: "127.0.0.1:8081"
                    """)).containsExactly("targets.yaml:3:3: server.admin: duplicate key (first on line 2)");
        }

        @Test
        void missingKeyPointsAtTheEnclosingMapping() {
            // the mapping of targets[0] starts after "  - ", at column 5
            assertThat(errors("""
                    targets:
                      - alias: x
                    """)).containsExactly("targets.yaml:2:5: targets[0].iqn: is required");
        }
    }

    @Nested
    class Types {

        @Test
        void listWhereAMappingIsExpected() {
            assertThat(errors("""
                    server:
                      - portals: ["127.0.0.1:3260"]
                    """)).containsExactly("targets.yaml:2:3: server: expected a mapping, found a list");
        }

        @Test
        void mappingWhereAListIsExpected() {
            assertThat(errors("targets: {iqn: iqn.2026-11.org.example:a}\n"))
                    .containsExactly("targets.yaml:1:10: targets: expected a list, found a mapping");
        }

        @Test
        void stringWhereAListIsExpected() {
            assertThat(errors("""
                    server:
                      portals: 127.0.0.1:3260
                    """)).containsExactly("targets.yaml:2:12: server.portals: expected a list, found a string");
        }

        @Test
        void listWhereAStringIsExpected() {
            assertThat(errors("""
                    targets:
                      - iqn: [iqn.2026-11.org.example:a]
                    """)).containsExactly("targets.yaml:2:10: targets[0].iqn: expected an iSCSI name, found a list");
        }

        @Test
        void documentThatIsNotAMapping() {
            assertThat(errors("- a\n")).containsExactly("targets.yaml:1:1: (root): expected a mapping, found a list");
        }
    }

    @Nested
    class Luns {

        @Test
        void duplicateLunNumberInATarget() {
            // "      - {lun: " is 14 characters
            assertThat(errors("""
                    targets:
                      - iqn: iqn.2026-11.org.example:a
                        luns:
                          - {lun: 0, name: a, backend: memory, size: 1M}
                          - {lun: 0, name: b, backend: memory, size: 1M}
                    """)).containsExactly("targets.yaml:5:15: targets[0].luns[1].lun: duplicate lun 0 (targets[0].luns[0] has it too)");
        }

        @Test
        void sameLunNumberInTwoTargetsIsFine() throws ConfigException {
            Config config = ConfigLoader.parse("""
                    targets:
                      - iqn: iqn.2026-11.org.example:a
                        luns: [{lun: 0, name: a, backend: memory, size: 1M}]
                      - iqn: iqn.2026-11.org.example:b
                        luns: [{lun: 0, name: b, backend: memory, size: 1M}]
                    """, "targets.yaml", BASE);
            assertThat(config.targets()).extracting(t -> t.luns().getFirst().name()).containsExactly("a", "b");
        }

        @Test
        void lunNamesAreUniqueAcrossTheWholeConfig() {
            // "      - {lun: 0, name: " is 23 characters
            assertThat(errors("""
                    targets:
                      - iqn: iqn.2026-11.org.example:a
                        luns:
                          - {lun: 0, name: data, backend: memory, size: 1M}
                      - iqn: iqn.2026-11.org.example:b
                        luns:
                          - {lun: 0, name: data, backend: memory, size: 1M}
                    """)).containsExactly("targets.yaml:7:24: targets[1].luns[0].name: duplicate LUN name \"data\" "
                    + "(targets[0].luns[0] has it too; LUN names are unique across the config)");
        }

        @ParameterizedTest
        @CsvSource(delimiter = '|', quoteCharacter = '\'', textBlock = """
                '"vol 0"' | "vol 0" is not a LUN name (1 to 64 of A-Z a-z 0-9 . _ -)
                '"a/b"'   | "a/b" is not a LUN name (1 to 64 of A-Z a-z 0-9 . _ -)
                '".."'    | ".." is not a LUN name (it names a directory)
                '"é"'     | "é" is not a LUN name (1 to 64 of A-Z a-z 0-9 . _ -)
                """)
        void lunNameCharset(String yamlName, String message) {
            assertThat(errors(memoryLunWith("size: 1M").replace("name: vol0", "name: " + yamlName)))
                    .containsExactly("targets.yaml:5:15: targets[0].luns[0].name: " + message);
        }

        @Test
        void lunNameOf65Characters() {
            String name = "n".repeat(65);
            assertThat(errors(memoryLunWith("size: 1M").replace("name: vol0", "name: " + name)))
                    .containsExactly("targets.yaml:5:15: targets[0].luns[0].name: \"" + name
                            + "\" is not a LUN name (1 to 64 of A-Z a-z 0-9 . _ -)");
        }

        @Test
        void targetWithDuplicateIqn() {
            assertThat(errors("""
                    targets:
                      - iqn: iqn.2026-11.org.example:a
                      - iqn: iqn.2026-11.org.example:a
                    """)).containsExactly("targets.yaml:3:10: targets[1].iqn: duplicate target (targets[0] has it too)");
        }

        @Test
        void euiNamesDifferingOnlyInCaseAreTheSameTarget() {
            assertThat(errors("""
                    targets:
                      - iqn: eui.0123456789ABCDEF
                      - iqn: eui.0123456789abcdef
                    """)).containsExactly("targets.yaml:3:10: targets[1].iqn: duplicate target (targets[0] has it too)");
        }
    }

    @Nested
    class Backends {

        /** A LUN starting at line 4, column 9, with the given backend and extra lines. */
        private static String lun(String backend, String... lines) {
            StringBuilder yaml = new StringBuilder("""
                    targets:
                      - iqn: iqn.2026-11.org.example:a
                        luns:
                          - lun: 0
                            name: a
                    """).append("        backend: ").append(backend).append('\n');
            for (String line : lines) {
                yaml.append("        ").append(line).append('\n');
            }
            return yaml.toString();
        }

        @Test
        void memoryNeedsSize() {
            assertThat(errors(lun("memory")))
                    .containsExactly("targets.yaml:4:9: targets[0].luns[0].size: is required for backend memory");
        }

        @Test
        void fileNeedsPath() {
            assertThat(errors(lun("file", "size: 1G")))
                    .containsExactly("targets.yaml:4:9: targets[0].luns[0].path: is required for backend file");
        }

        @Test
        void fileWithoutSizeIsLeftToTheServer() throws ConfigException {
            Config config = ConfigLoader.parse(lun("file", "path: images/a.img"), "targets.yaml", BASE);
            LunConfig lun = config.targets().getFirst().luns().getFirst();
            assertThat(lun.path()).isEqualTo(Path.of("/srv/rtarget/images/a.img"));
            assertThat(lun.hasSize()).isFalse();
        }

        @Test
        void ploopNeedsDeltas() {
            assertThat(errors(lun("ploop")))
                    .containsExactly("targets.yaml:4:9: targets[0].luns[0].deltas: is required for backend ploop");
        }

        @Test
        void ploopNeedsAtLeastOneDelta() {
            // "        deltas: " is 16 characters
            assertThat(errors(lun("ploop", "deltas: []")))
                    .containsExactly("targets.yaml:7:17: targets[0].luns[0].deltas: needs at least one image (base first, top last)");
        }

        @Test
        void ublkNeedsSizeAndDriver() {
            assertThat(errors(lun("ublk"))).containsExactly(
                    "targets.yaml:4:9: targets[0].luns[0].size: is required for backend ublk",
                    "targets.yaml:4:9: targets[0].luns[0].driver: is required for backend ublk");
        }

        @Test
        void ublkDriverNeedsACommand() {
            // "        driver: " is 16 characters; the flow mapping starts at its "{"
            assertThat(errors(lun("ublk", "size: 1G", "driver: {recovery: queue}")))
                    .containsExactly("targets.yaml:8:17: targets[0].luns[0].driver.command: is required");
            assertThat(errors(lun("ublk", "size: 1G", "driver: {command: []}")))
                    .containsExactly("targets.yaml:8:27: targets[0].luns[0].driver.command: needs at least the program to run");
        }

        @Test
        void keysOfOtherBackendsAreRefused() {
            assertThat(errors(lun("memory", "size: 1M", "deltas: [a.hds]")))
                    .containsExactly("targets.yaml:8:9: targets[0].luns[0].deltas: is not used by backend memory");
            assertThat(errors(lun("file", "path: a.img", "driver: {command: [drv]}")))
                    .containsExactly("targets.yaml:8:9: targets[0].luns[0].driver: is not used by backend file");
            assertThat(errors(lun("ploop", "deltas: [a.hds]", "size: 1G")))
                    .containsExactly("targets.yaml:8:9: targets[0].luns[0].size: is not used by backend ploop");
            assertThat(errors(lun("ublk", "size: 1G", "driver: {command: [drv]}", "path: a.img")))
                    .containsExactly("targets.yaml:9:9: targets[0].luns[0].path: is not used by backend ublk");
        }
    }

    @Nested
    class ServerSection {

        @Test
        void atLeastOnePortal() {
            assertThat(errors("""
                    server:
                      portals: []
                    """)).containsExactly("targets.yaml:2:12: server.portals: needs at least one portal");
        }

        @Test
        void unquotedIpv6IsAYamlErrorWithAHint() {
            assertThat(errors("""
                    server:
                      portals: [[::]:3260]
                    """)).containsExactly("targets.yaml:2:14: (yaml): expected the node content, but found ':' "
                    + "(while parsing a flow node); quote values that start with '[' or ':', as in \"[::]:3260\"");
        }
    }

    @Nested
    class AccessControlAndAuth {

        @Test
        void aclLunsMustExistInTheTarget() {
            // "        luns: [0, " is 18 characters
            assertThat(errors("""
                    targets:
                      - iqn: iqn.2026-11.org.example:a
                        acl:
                          - initiator: iqn.1993-08.org.debian:01:host1
                            luns: [0, 7]
                        luns:
                          - {lun: 0, name: a, backend: memory, size: 1M}
                    """)).containsExactly("targets.yaml:5:19: targets[0].acl[0].luns[1]: this target has no lun 7");
        }

        @Test
        void emptyAclLunListIsNotReadAsAllLuns() {
            assertThat(errors("""
                    targets:
                      - iqn: iqn.2026-11.org.example:a
                        acl:
                          - initiator: iqn.1993-08.org.debian:01:host1
                            luns: []
                    """)).containsExactly(
                    "targets.yaml:5:15: targets[0].acl[0].luns: must not be empty (leave luns out to allow every lun)");
        }

        @Test
        void authWithoutChap() {
            assertThat(errors("""
                    targets:
                      - iqn: iqn.2026-11.org.example:a
                        auth:
                          mutual: {user: t, secret: s3cret-s3cret}
                    """)).containsExactly("targets.yaml:4:7: targets[0].auth.chap: is required when auth is given");
        }

        @Test
        void twoSecretSourcesAndTheSecretIsNotPrinted() {
            // "      chap: {user: alice, secret: hunter2, " is 43 characters
            List<String> errors = errors("""
                    targets:
                      - iqn: iqn.2026-11.org.example:a
                        auth:
                          chap: {user: alice, secret: hunter2, secret-env: ALICE}
                    """);
            assertThat(errors).containsExactly("targets.yaml:4:44: targets[0].auth.chap.secret-env: "
                    + "give only one of secret, secret-file or secret-env (secret is given too)");
            assertThat(String.join("\n", errors)).doesNotContain("hunter2");
        }

        @Test
        void noSecretSource() {
            assertThat(errors("""
                    server:
                      discovery-auth:
                        chap: {user: alice}
                    """)).containsExactly("targets.yaml:3:11: server.discovery-auth.chap.secret: "
                    + "needs one of secret, secret-file or secret-env");
        }

        @Test
        void badEnvironmentVariableName() {
            assertThat(errors("""
                    targets:
                      - iqn: iqn.2026-11.org.example:a
                        auth:
                          chap: {user: alice, secret-env: 1X}
                    """)).containsExactly(
                    "targets.yaml:4:39: targets[0].auth.chap.secret-env: \"1X\" is not an environment variable name");
        }
    }

    @Nested
    class Syntax {

        @Test
        void yamlSyntaxErrorIsOneLineAtSnakeYamlsMark() {
            assertThat(errors("""
                    server:
                      portals: ["127.0.0.1:3260"
                    """)).containsExactly("targets.yaml:3:1: (yaml): expected ',' or ']', but got <stream end> "
                    + "(while parsing a flow sequence)");
        }

        @Test
        void badIndentation() {
            assertThat(errors("""
                    targets:
                      - iqn: iqn.2026-11.org.example:a
                       queue-depth: 1
                    """)).containsExactly("targets.yaml:3:4: (yaml): expected <block end>, but found '<block mapping start>' "
                    + "(while parsing a block collection); check the indentation");
        }

        @Test
        void twoDocuments() {
            assertThat(errors("server: {}\n---\ntargets: []\n")).containsExactly(
                    "targets.yaml:2:1: (yaml): expected a single document in the stream but found another document");
        }

        @Test
        void controlCharacter() {
            assertThat(errors("server:\n  admin: \"a\u0001\"\n"))
                    .containsExactly("targets.yaml:2:12: (yaml): character U+0001 is not allowed in YAML");
        }

        @Test
        void undefinedAlias() {
            assertThat(errors("server: *defaults\n")).containsExactly("targets.yaml:1:9: (yaml): found undefined alias defaults");
        }
    }

    @Nested
    class UnreadableFiles {

        @Test
        void missingFile(@TempDir Path dir) {
            Path file = dir.resolve("nope.yaml");
            try {
                ConfigLoader.load(file);
                fail("a missing file must be refused");
            } catch (ConfigException e) {
                assertThat(e.errors()).extracting(ConfigError::toString).containsExactly(file + ":1:1: (file): no such file");
            }
        }

        @Test
        void directoryInsteadOfFile(@TempDir Path dir) {
            try {
                ConfigLoader.load(dir);
                fail("a directory must be refused");
            } catch (ConfigException e) {
                assertThat(e.getMessage()).isEqualTo(dir + ":1:1: (file): is a directory");
            }
        }

        @Test
        void notUtf8(@TempDir Path dir) throws IOException {
            Path file = Files.write(dir.resolve("latin1.yaml"), new byte[] {'a', ':', ' ', (byte) 0xe9, '\n'});
            try {
                ConfigLoader.load(file);
                fail("Latin-1 must be refused");
            } catch (ConfigException e) {
                assertThat(e.getMessage()).isEqualTo(file + ":1:1: (file): is not UTF-8 text");
            }
        }
    }

    @Test
    void everyErrorInAFileIsReportedInFileOrder() {
        assertThat(errors("""
                server:
                  portals: []
                  admin: "127.0.0.1:80800"
                targets:
                  - iqn: iqn.2026-11.org.example:a
                    queue-depth: 0
                    luns:
                      - lun: 0
                        name: vol0
                        backend: memory
                        size: 12XB
                      - lun: 1
                        name: vol0
                        backend: ploop
                        path: a.img
                  - iqn: not-an-iqn
                    colour: blue
                """)).containsExactly(
                "targets.yaml:2:12: server.portals: needs at least one portal",
                "targets.yaml:3:10: server.admin: port 80800 is not in 0..65535",
                "targets.yaml:6:18: targets[0].queue-depth: must be 1..4096, got 0",
                "targets.yaml:11:15: targets[0].luns[0].size: \"12XB\" is not a size",
                "targets.yaml:12:9: targets[0].luns[1].deltas: is required for backend ploop",
                "targets.yaml:13:15: targets[0].luns[1].name: duplicate LUN name \"vol0\" "
                        + "(targets[0].luns[0] has it too; LUN names are unique across the config)",
                "targets.yaml:15:9: targets[0].luns[1].path: is not used by backend ploop",
                "targets.yaml:16:10: targets[1].iqn: \"not-an-iqn\" is not an iSCSI name "
                        + "(expected iqn.YYYY-MM.reversed.domain[:name], eui.<16 hex digits> or naa.<16 or 32 hex digits>)",
                "targets.yaml:17:5: targets[1].colour: unknown key");
    }
}
