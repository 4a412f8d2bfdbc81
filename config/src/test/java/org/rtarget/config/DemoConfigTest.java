package org.rtarget.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class DemoConfigTest {

    @Test
    void demoIsOneGibibyteMemoryLunOnLocalhost() {
        Config demo = Config.demo();
        assertThat(demo.source()).isNull();
        assertThat(demo.server().portals()).containsExactly(HostPort.parse("127.0.0.1:3260", 3260));
        assertThat(demo.server().admin()).hasToString("127.0.0.1:8080");
        assertThat(demo.server().stateDir()).isEqualTo(Path.of("").toAbsolutePath().resolve("state"));
        assertThat(demo.server().standbyCheck()).isTrue();

        TargetConfig target = demo.target("iqn.2026-11.org.rtarget:demo").orElseThrow();
        assertThat(target.luns()).hasSize(1);
        LunConfig lun = target.lun(0).orElseThrow();
        assertThat(lun.name()).isEqualTo("demo");
        assertThat(lun.backend()).isEqualTo(BackendType.MEMORY);
        assertThat(lun.size()).isEqualTo(1024L * 1024 * 1024);
        assertThat(lun.blockSize()).isEqualTo(512);
    }

    @Test
    void demoIsWhatTheSameYamlGives() throws ConfigException {
        Config parsed = ConfigLoader.parse("""
                targets:
                  - iqn: iqn.2026-11.org.rtarget:demo
                    luns:
                      - {lun: 0, name: demo, backend: memory, size: 1G}
                """, "demo.yaml", Path.of("").toAbsolutePath());
        assertThat(parsed).isEqualTo(Config.demo());
    }

    @Test
    void unknownTargetIsEmpty() {
        assertThat(Config.demo().target("iqn.2026-11.org.rtarget:other")).isEmpty();
    }
}
