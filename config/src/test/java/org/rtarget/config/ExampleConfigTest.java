package org.rtarget.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URISyntaxException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The documented example (docs/config-example.yaml, copied into test resources) means what it says. */
class ExampleConfigTest {

    private static Path file;
    private static Path dir;
    private static Config config;

    @BeforeAll
    static void load() throws URISyntaxException, ConfigException {
        file = Path.of(ExampleConfigTest.class.getResource("/config-example.yaml").toURI());
        dir = file.getParent();
        config = ConfigLoader.load(file);
    }

    @Test
    void remembersWhereItCameFrom() {
        assertThat(config.source()).isEqualTo(file.toAbsolutePath().normalize());
    }

    @Test
    void serverSection() {
        ServerConfig server = config.server();
        assertThat(server.portals()).containsExactly(new HostPort("127.0.0.1", 3260));
        assertThat(server.admin()).isEqualTo(new HostPort("127.0.0.1", 8080));
        assertThat(server.stateDir()).isEqualTo(dir.resolve("state"));
        assertThat(server.standbyCheck()).isTrue();
        // not in the example: the defaults
        assertThat(server.nopInterval()).isEqualTo(Duration.ofSeconds(5));
        assertThat(server.nopTimeout()).isEqualTo(Duration.ofSeconds(15));
        assertThat(server.loginTimeout()).isEqualTo(Duration.ofSeconds(15));
        assertThat(server.maxRecvDataSegmentLength()).isEqualTo(262144);
        assertThat(server.discoveryAuth()).isNull();
    }

    @Test
    void targetWithAuthAndAcl() {
        assertThat(config.targets()).hasSize(1);
        TargetConfig target = config.target("iqn.2026-11.org.example:store1").orElseThrow();
        assertThat(target.queueDepth()).isEqualTo(128);
        assertThat(target.alias()).isNull();
        assertThat(target.auth()).isEqualTo(new AuthConfig(
                new ChapCredentials("alice", new SecretSource.FromFile(dir.resolve("secrets/alice"))),
                new ChapCredentials("store1", new SecretSource.FromFile(dir.resolve("secrets/store1")))));
        assertThat(target.acl()).containsExactly(
                new AclEntry("iqn.1993-08.org.debian:01:host1", List.of(0, 1, 3), List.of()));
        assertThat(target.luns()).extracting(LunConfig::lun).containsExactly(0, 1, 2, 3);
    }

    @Test
    void fileLun() {
        LunConfig vol0 = lun(0);
        assertThat(vol0.name()).isEqualTo("vol0");
        assertThat(vol0.backend()).isEqualTo(BackendType.FILE);
        assertThat(vol0.path()).isEqualTo(dir.resolve("images/vol0.img"));
        assertThat(vol0.size()).isEqualTo(1L << 30);
        assertThat(vol0.blockSize()).isEqualTo(512);
        assertThat(vol0.readOnly()).isFalse();
        assertThat(vol0.writeCache()).isTrue();
        assertThat(vol0.driver()).isNull();
    }

    @Test
    void ploopLun() {
        LunConfig ct101 = lun(1);
        assertThat(ct101.name()).isEqualTo("ct101");
        assertThat(ct101.backend()).isEqualTo(BackendType.PLOOP);
        assertThat(ct101.deltas()).containsExactly(
                dir.resolve("images/ct101/root.hds.base"), dir.resolve("images/ct101/root.hds"));
        assertThat(ct101.size()).isZero();
        // no standby-errors in the file: the backend's default applies (ploop: EIO counts)
        assertThat(ct101.standby()).isEqualTo(new StandbyConfig(true, Duration.ofSeconds(60),
                StandbyConfig.Fallback.NOT_READY, null));
    }

    @Test
    void ublkLunKeepsItsCommandAsWritten() {
        LunConfig fast = lun(2);
        assertThat(fast.backend()).isEqualTo(BackendType.UBLK);
        assertThat(fast.size()).isEqualTo(1L << 30);
        // the command is the driver's business: its relative paths are not resolved
        assertThat(fast.driver()).isEqualTo(new DriverConfig(
                List.of("bin/iscsi-target", "ublk-driver", "--file", "./images/fast.img"),
                DriverConfig.Recovery.REISSUE, Duration.ofSeconds(1), 10, Duration.ofSeconds(30), 1, 64));
    }

    @Test
    void memoryLun() {
        LunConfig scratch = lun(3);
        assertThat(scratch.name()).isEqualTo("scratch");
        assertThat(scratch.backend()).isEqualTo(BackendType.MEMORY);
        assertThat(scratch.size()).isEqualTo(256L << 20);
        assertThat(scratch.path()).isNull();
        assertThat(scratch.deltas()).isEmpty();
    }

    private static LunConfig lun(int number) {
        return config.targets().getFirst().lun(number).orElseThrow();
    }
}
