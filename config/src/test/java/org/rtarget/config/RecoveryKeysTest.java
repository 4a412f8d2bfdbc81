package org.rtarget.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The LUN keys of safe recovery: stall-timeout, drain-timeout, io-threads, and the default errno set. */
class RecoveryKeysTest {

    private static LunConfig lun(String keys) throws ConfigException {
        Config c = ConfigLoader.parse("""
                targets:
                  - iqn: iqn.2026-12.org.example:a
                    luns:
                      - {lun: 0, name: vol0, backend: file, path: /srv/a.img, size: 1M%s}
                """.formatted(keys), "targets.yaml", Path.of("/srv"));
        return c.targets().getFirst().luns().getFirst();
    }

    @Test
    void defaultsAreTheBackendsErrnoSetATenSecondStallAndAThirtySecondDrain() throws ConfigException {
        LunConfig l = lun("");
        assertThat(l.standby().errors()).as("no standby-errors: the backend decides").isNull();
        assertThat(l.standby().errorsOr(StandbyConfig.DEFAULT_ERRORS_LOCAL)).doesNotContain("EIO");
        assertThat(l.standby().stallTimeout()).isEqualTo(Duration.ofSeconds(10));
        assertThat(l.standby().drainTimeout()).isEqualTo(Duration.ofSeconds(30));
        assertThat(l.ioThreads()).isEqualTo(16);
    }

    @Test
    void theKeysAreRead() throws ConfigException {
        LunConfig l = lun(", stall-timeout: 0s, drain-timeout: 2s, io-threads: 4, standby-errors: [EIO]");
        assertThat(l.standby().stallTimeout()).as("0s: no stall detection").isZero();
        assertThat(l.standby().drainTimeout()).isEqualTo(Duration.ofSeconds(2));
        assertThat(l.ioThreads()).isEqualTo(4);
        assertThat(l.standby().errorsOr(StandbyConfig.DEFAULT_ERRORS)).isEqualTo(List.of("EIO"));
    }

    @Test
    void badValuesAreRefusedWithFileLineAndKey() {
        assertThat(ConfigErrorsTest.errors("""
                targets:
                  - iqn: iqn.2026-12.org.example:a
                    luns:
                      - {lun: 0, name: vol0, backend: file, path: /srv/a.img, drain-timeout: 0s, io-threads: 0}
                """)).containsExactly(
                "targets.yaml:4:78: targets[0].luns[0].drain-timeout: must be more than 0",
                "targets.yaml:4:94: targets[0].luns[0].io-threads: must be 1..256, got 0");
    }

    @Test
    void ioThreadsIsForTheBackendsThatRunBlockingIo() {
        assertThat(ConfigErrorsTest.errors("""
                targets:
                  - iqn: iqn.2026-12.org.example:a
                    luns:
                      - {lun: 0, name: vol0, backend: memory, size: 1M, io-threads: 4}
                """)).singleElement().asString().contains("io-threads").contains("is not used by backend memory");
    }
}
