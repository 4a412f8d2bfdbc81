package org.rtarget.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Valid configs: every key that is not in the example, the defaults, and path resolution. */
class ConfigLoaderTest {

    private static final Path BASE = Path.of("/srv/rtarget");

    private static Config parse(String yaml) throws ConfigException {
        return ConfigLoader.parse(yaml, "targets.yaml", BASE);
    }

    @Test
    void emptyFileIsAServerWithoutTargets() throws ConfigException {
        Config config = parse("");
        assertThat(config.targets()).isEmpty();
        assertThat(config.server()).isEqualTo(ServerConfig.defaults(BASE));
        assertThat(config.source()).isNull();
    }

    @Test
    void sectionsWithoutValuesAreEmpty() throws ConfigException {
        Config config = parse("server:\ntargets:\n");
        assertThat(config.targets()).isEmpty();
        assertThat(config.server().portals()).containsExactly(new HostPort("127.0.0.1", 3260));
    }

    @Test
    void everyServerKey() throws ConfigException {
        ServerConfig server = parse("""
                server:
                  portals: ["[::]:3260", "192.0.2.1", "[::1]"]
                  admin: 0.0.0.0
                  admin-token-file: /etc/rtarget/admin-token
                  admin-tls: {cert: tls/admin.crt, key: tls/admin.key}
                  state-dir: /var/lib/rtarget
                  standby-check: no
                  nop-interval: 0
                  nop-timeout: 30s
                  login-timeout: 1m
                  max-recv-data-segment-length: 8192
                  discovery-auth:
                    chap: {user: disco, secret-env: DISCO_SECRET}
                """).server();
        assertThat(server.portals()).containsExactly(
                new HostPort("::", 3260), new HostPort("192.0.2.1", 3260), new HostPort("::1", 3260));
        assertThat(server.admin()).isEqualTo(new HostPort("0.0.0.0", 8080));
        assertThat(server.adminTokenFile()).isEqualTo(Path.of("/etc/rtarget/admin-token"));
        assertThat(server.adminTls()).isEqualTo(new AdminTlsConfig(BASE.resolve("tls/admin.crt"), BASE.resolve("tls/admin.key")));
        assertThat(server.stateDir()).isEqualTo(Path.of("/var/lib/rtarget"));
        assertThat(server.standbyCheck()).isFalse();
        assertThat(server.nopInterval()).isZero();
        assertThat(server.nopTimeout()).isEqualTo(Duration.ofSeconds(30));
        assertThat(server.loginTimeout()).isEqualTo(Duration.ofMinutes(1));
        assertThat(server.maxRecvDataSegmentLength()).isEqualTo(8192);
        assertThat(server.discoveryAuth()).isEqualTo(
                new AuthConfig(new ChapCredentials("disco", new SecretSource.FromEnv("DISCO_SECRET")), null));
    }

    @Test
    void everyTargetAndLunKey() throws ConfigException {
        TargetConfig target = parse("""
                targets:
                  - iqn: naa.0123456789abcdef
                    alias: "Store One"
                    queue-depth: 32
                    auth:
                      chap: {user: alice, secret: "twelve-chars"}
                    acl:
                      - initiator: iqn.1993-08.org.debian:01:host1
                        addresses: [192.0.2.0/24, "2001:db8::/32"]
                      - initiator: iqn.1993-08.org.debian:01:host2
                        luns: [1]
                    luns:
                      - lun: 0
                        name: fast
                        backend: ublk
                        size: 4G
                        block-size: 4096
                        read-only: yes
                        write-cache: false
                        standby-busy-max: 90s
                        standby-fallback: hardware-error
                        standby-errors: [eio, ENOTCONN, EIO]
                        driver:
                          command: [/usr/bin/drv, --queues, 4]
                          recovery: fail-io
                          restart-backoff: 250ms
                          restart-limit: 0
                          request-timeout: 2m
                      - lun: 1
                        name: raw.disk_1
                        backend: file
                        path: /dev/sdb
                """).targets().getFirst();

        assertThat(target.iqn()).isEqualTo("naa.0123456789abcdef");
        assertThat(target.alias()).isEqualTo("Store One");
        assertThat(target.queueDepth()).isEqualTo(32);
        assertThat(target.auth().chap().secret()).isEqualTo(new SecretSource.Inline("twelve-chars"));
        assertThat(target.auth().mutual()).isNull();
        assertThat(target.acl()).containsExactly(
                new AclEntry("iqn.1993-08.org.debian:01:host1", List.of(), List.of("192.0.2.0/24", "2001:db8::/32")),
                new AclEntry("iqn.1993-08.org.debian:01:host2", List.of(1), List.of()));

        LunConfig fast = target.lun(0).orElseThrow();
        assertThat(fast.size()).isEqualTo(4L << 30);
        assertThat(fast.blockSize()).isEqualTo(4096);
        assertThat(fast.readOnly()).isTrue();
        assertThat(fast.writeCache()).isFalse();
        // errno names are stored upper case, without repeats
        assertThat(fast.standby()).isEqualTo(new StandbyConfig(true, Duration.ofSeconds(90),
                StandbyConfig.Fallback.HARDWARE_ERROR, List.of("EIO", "ENOTCONN")));
        assertThat(fast.driver()).isEqualTo(new DriverConfig(List.of("/usr/bin/drv", "--queues", "4"),
                DriverConfig.Recovery.FAIL_IO, Duration.ofMillis(250), 0, Duration.ofMinutes(2), 1, 64));

        LunConfig raw = target.lun(1).orElseThrow();
        assertThat(raw.path()).isEqualTo(Path.of("/dev/sdb"));
        assertThat(raw.size()).isZero();
        assertThat(raw.standby()).isEqualTo(StandbyConfig.defaults());
    }

    @Test
    void aclEntriesAnswerTheQuestionsOfALogin() throws Exception {
        AclEntry entry = new AclEntry("iqn.1993-08.org.debian:01:host1", List.of(0, 3), List.of("192.0.2.0/24"));
        assertThat(entry.allowsLun(3)).isTrue();
        assertThat(entry.allowsLun(1)).isFalse();
        assertThat(entry.allowsAddress(InetAddress.getByName("192.0.2.9"))).isTrue();
        assertThat(entry.allowsAddress(InetAddress.getByName("198.51.100.1"))).isFalse();

        AclEntry open = new AclEntry("iqn.1993-08.org.debian:01:host1", List.of(), List.of());
        assertThat(open.allowsLun(16383)).isTrue();
        assertThat(open.allowsAddress(InetAddress.getByName("198.51.100.1"))).isTrue();
    }

    @Test
    void relativePathsResolveAgainstTheConfigFilesDirectory(@TempDir Path dir) throws IOException, ConfigException {
        Path etc = Files.createDirectories(dir.resolve("etc"));
        Path file = Files.writeString(etc.resolve("targets.yaml"), """
                server:
                  state-dir: ../var/state
                targets:
                  - iqn: iqn.2026-11.org.example:a
                    auth:
                      chap: {user: alice, secret-file: secrets/alice}
                    luns:
                      - {lun: 0, name: a, backend: file, path: ./images/a.img}
                      - {lun: 1, name: b, backend: ploop, deltas: [base.hds, /abs/top.hds]}
                      - lun: 2
                        name: c
                        backend: ublk
                        size: 1G
                        driver: {command: [./bin/drv, --file, ./images/c.img]}
                """);
        Config config = ConfigLoader.load(file);
        assertThat(config.source()).isEqualTo(file);
        assertThat(config.server().stateDir()).isEqualTo(dir.resolve("var/state"));
        TargetConfig target = config.targets().getFirst();
        assertThat(target.auth().chap().secret()).isEqualTo(new SecretSource.FromFile(etc.resolve("secrets/alice")));
        assertThat(target.lun(0).orElseThrow().path()).isEqualTo(etc.resolve("images/a.img"));
        assertThat(target.lun(1).orElseThrow().deltas()).containsExactly(etc.resolve("base.hds"), Path.of("/abs/top.hds"));
        // a driver command is not a path key: it reaches the driver as written
        assertThat(target.lun(2).orElseThrow().driver().command()).containsExactly("./bin/drv", "--file", "./images/c.img");
    }

    @Test
    void loadNamesErrorsAfterTheFileAsGiven(@TempDir Path dir) throws IOException {
        Path file = Files.writeString(dir.resolve("bad.yaml"), "colour: red\n");
        Path relative = Path.of("").toAbsolutePath().relativize(file);
        try {
            ConfigLoader.load(relative);
        } catch (ConfigException e) {
            assertThat(e.getMessage()).isEqualTo(relative + ":1:1: colour: unknown key");
            return;
        }
        throw new AssertionError("expected an error");
    }

    @Test
    void byteOrderMarkIsIgnored() throws ConfigException {
        assertThat(parse("\uFEFFserver:\n  admin: 127.0.0.1:9090\n").server().admin().port()).isEqualTo(9090);
    }

    @Test
    void anchorsAndAliasesWork() throws ConfigException {
        Config config = parse("""
                targets:
                  - iqn: iqn.2026-11.org.example:a
                    acl: &acl
                      - initiator: iqn.1993-08.org.debian:01:host1
                  - iqn: iqn.2026-11.org.example:b
                    acl: *acl
                """);
        assertThat(config.targets().get(1).acl()).isEqualTo(config.targets().get(0).acl());
    }
}
