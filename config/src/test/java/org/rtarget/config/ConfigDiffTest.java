package org.rtarget.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What a reload would do, as the server and the operator see it. */
class ConfigDiffTest {

    private static final String A = "iqn.2026-11.org.example:a";
    private static final String B = "iqn.2026-11.org.example:b";

    private static Config parse(String yaml) {
        try {
            return ConfigLoader.parse(yaml, "targets.yaml", Path.of("/srv/rtarget"));
        } catch (ConfigException e) {
            throw new AssertionError(e.getMessage(), e);
        }
    }

    /** Target A with the given LUN lines (each one flow mapping) and extra target keys. */
    private static Config targetA(String extraKeys, String... luns) {
        StringBuilder yaml = new StringBuilder("targets:\n  - iqn: " + A + "\n");
        extraKeys.lines().forEach(line -> yaml.append("    ").append(line).append('\n'));
        yaml.append("    luns:\n");
        for (String lun : luns) {
            yaml.append("      - ").append(lun).append('\n');
        }
        return parse(yaml.toString());
    }

    private static final String VOL0 = "{lun: 0, name: vol0, backend: memory, size: 1G}";
    private static final String VOL1 = "{lun: 1, name: vol1, backend: file, path: vol1.img, size: 1G}";

    @Test
    void sameConfigIsNoChange() {
        ConfigDiff diff = ConfigDiff.between(targetA("", VOL0, VOL1), targetA("", VOL0, VOL1));
        assertThat(diff.isEmpty()).isTrue();
        assertThat(diff.summary()).isEmpty();
    }

    @Test
    void targetsAddedAndRemoved() {
        Config old = parse("targets:\n  - iqn: " + A + "\n");
        Config neu = parse("targets:\n  - iqn: " + B + "\n    luns: [" + VOL0 + "]\n");
        ConfigDiff diff = ConfigDiff.between(old, neu);
        assertThat(diff.addedTargets()).extracting(TargetConfig::iqn).containsExactly(B);
        assertThat(diff.removedTargets()).extracting(TargetConfig::iqn).containsExactly(A);
        assertThat(diff.changedTargets()).isEmpty();
        assertThat(diff.summary()).containsExactly("target " + A + ": removed", "target " + B + ": added with 1 lun");
    }

    @Test
    void lunsAddedAndRemoved() {
        ConfigDiff diff = ConfigDiff.between(targetA("", VOL0), targetA("", VOL1));
        ConfigDiff.TargetDiff target = diff.changedTargets().getFirst();
        assertThat(target.iqn()).isEqualTo(A);
        assertThat(target.removedLuns()).extracting(LunConfig::name).containsExactly("vol0");
        assertThat(target.addedLuns()).extracting(LunConfig::name).containsExactly("vol1");
        assertThat(diff.summary()).containsExactly(
                "target " + A + ": lun 0 (vol0) removed",
                "target " + A + ": lun 1 (vol1) added");
    }

    @Test
    void renumberedOrRenamedLunIsRemovedAndAdded() {
        ConfigDiff renumbered = ConfigDiff.between(targetA("", VOL0), targetA("", VOL0.replace("lun: 0", "lun: 5")));
        assertThat(renumbered.changedTargets().getFirst().removedLuns()).extracting(LunConfig::lun).containsExactly(0);
        assertThat(renumbered.changedTargets().getFirst().addedLuns()).extracting(LunConfig::lun).containsExactly(5);

        ConfigDiff renamed = ConfigDiff.between(targetA("", VOL0), targetA("", VOL0.replace("vol0", "data")));
        assertThat(renamed.changedTargets().getFirst().removedLuns()).extracting(LunConfig::name).containsExactly("vol0");
        assertThat(renamed.changedTargets().getFirst().addedLuns()).extracting(LunConfig::name).containsExactly("data");
        assertThat(renamed.changedTargets().getFirst().rebuiltLuns()).isEmpty();
    }

    @Test
    void growingIsAResize() {
        ConfigDiff diff = ConfigDiff.between(targetA("", VOL0, VOL1), targetA("", VOL0, VOL1.replace("1G", "2G")));
        ConfigDiff.TargetDiff target = diff.changedTargets().getFirst();
        assertThat(target.resizedLuns()).singleElement().satisfies(change -> {
            assertThat(change.old().size()).isEqualTo(1L << 30);
            assertThat(change.neu().size()).isEqualTo(2L << 30);
            assertThat(change.changedKeys()).containsExactly("size");
        });
        assertThat(target.rebuiltLuns()).isEmpty();
        assertThat(diff.summary()).containsExactly("target " + A + ": lun 1 (vol1) resized 1 GiB -> 2 GiB");
    }

    @Test
    void shrinkingIsARebuild() {
        ConfigDiff diff = ConfigDiff.between(targetA("", VOL1), targetA("", VOL1.replace("1G", "512M")));
        ConfigDiff.TargetDiff target = diff.changedTargets().getFirst();
        assertThat(target.resizedLuns()).isEmpty();
        assertThat(target.rebuiltLuns()).singleElement()
                .satisfies(change -> assertThat(change.changedKeys()).containsExactly("size"));
        assertThat(diff.summary()).containsExactly("target " + A + ": lun 1 (vol1) rebuilt (size changed)");
    }

    @Test
    void growingTogetherWithAnotherChangeIsARebuild() {
        ConfigDiff diff = ConfigDiff.between(targetA("", VOL1),
                targetA("", VOL1.replace("1G", "2G").replace("vol1.img", "vol1-new.img")));
        assertThat(diff.changedTargets().getFirst().rebuiltLuns()).singleElement()
                .satisfies(change -> assertThat(change.changedKeys()).containsExactly("path", "size"));
    }

    @Test
    void fileLunThatGainsASizeIsARebuild() {
        String noSize = "{lun: 1, name: vol1, backend: file, path: vol1.img}";
        ConfigDiff diff = ConfigDiff.between(targetA("", noSize), targetA("", VOL1));
        assertThat(diff.changedTargets().getFirst().resizedLuns()).isEmpty();
        assertThat(diff.changedTargets().getFirst().rebuiltLuns()).hasSize(1);
    }

    @Test
    void backendSettingsRebuild() {
        String ploop = "{lun: 2, name: ct, backend: ploop, deltas: [base.hds, top.hds]}";
        String ublk = "{lun: 3, name: fast, backend: ublk, size: 1G, driver: {command: [drv]}}";
        ConfigDiff diff = ConfigDiff.between(
                targetA("", VOL0, ploop, ublk),
                targetA("",
                        VOL0.replace("}", ", read-only: true, block-size: 4096}"),
                        ploop.replace("top.hds", "top2.hds"),
                        "{lun: 3, name: fast, backend: ublk, size: 1G, driver: {command: [drv], recovery: queue},"
                                + " standby-busy-max: 5s}"));
        assertThat(diff.changedTargets().getFirst().rebuiltLuns())
                .extracting(ConfigDiff.LunChange::changedKeys)
                .containsExactly(List.of("block-size", "read-only"), List.of("deltas"), List.of("driver", "standby-busy-max"));
        assertThat(diff.summary()).containsExactly(
                "target " + A + ": lun 0 (vol0) rebuilt (block-size, read-only changed)",
                "target " + A + ": lun 2 (ct) rebuilt (deltas changed)",
                "target " + A + ": lun 3 (fast) rebuilt (driver, standby-busy-max changed)");
    }

    @Test
    void targetSettings() {
        Config old = targetA("""
                alias: old
                auth:
                  chap: {user: alice, secret: first-secret-1}""", VOL0);
        Config neu = targetA("""
                alias: new
                queue-depth: 64
                auth:
                  chap: {user: alice, secret: second-secret-2}
                acl:
                  - initiator: iqn.1993-08.org.debian:01:host1""", VOL0);
        ConfigDiff diff = ConfigDiff.between(old, neu);
        assertThat(diff.targetsWithChangedSettings()).singleElement().satisfies(target -> {
            assertThat(target.changedSettings()).containsExactly("alias", "queue-depth", "auth", "acl");
            assertThat(target.addedLuns()).isEmpty();
            assertThat(target.rebuiltLuns()).isEmpty();
        });
        assertThat(diff.summary()).containsExactly(
                "target " + A + ": alias \"old\" -> \"new\"",
                "target " + A + ": queue-depth 128 -> 64",
                "target " + A + ": auth changed",
                "target " + A + ": acl changed");
        assertThat(String.join("\n", diff.summary())).doesNotContain("secret-1").doesNotContain("secret-2");
    }

    @Test
    void lunChangesAloneLeaveTargetSettingsAlone() {
        ConfigDiff diff = ConfigDiff.between(targetA("", VOL0), targetA("", VOL0, VOL1));
        assertThat(diff.changedTargets()).hasSize(1);
        assertThat(diff.targetsWithChangedSettings()).isEmpty();
    }

    @Test
    void serverChanges() {
        Config old = parse("server:\n  portals: [\"127.0.0.1:3260\"]\n");
        Config neu = parse("""
                server:
                  portals: ["0.0.0.0:3260", "[::]:3260"]
                  admin: "0.0.0.0:8080"
                  nop-interval: 10s
                  discovery-auth:
                    chap: {user: d, secret: discovery-secret}
                  admin-token-file: /etc/rtarget/admin-token
                  admin-tls: self-signed
                """);
        ConfigDiff diff = ConfigDiff.between(old, neu);
        assertThat(diff.serverChanged()).isTrue();
        assertThat(diff.serverChanges()).containsExactly("portals", "admin", "nop-interval", "discovery-auth",
                "admin-token-file", "admin-tls");
        assertThat(diff.changedTargets()).isEmpty();
        assertThat(diff.summary()).containsExactly(
                "server: portals [127.0.0.1:3260] -> [0.0.0.0:3260, [::]:3260]",
                "server: admin 127.0.0.1:8080 -> 0.0.0.0:8080",
                "server: nop-interval 5s -> 10s",
                "server: discovery-auth changed",
                "server: admin-token-file (none) -> /etc/rtarget/admin-token",
                "server: admin-tls (none) -> self-signed");
    }

    @Test
    void lunMovingBetweenTargetsIsRemovedFromOneAndAddedToTheOther() {
        Config old = parse("targets:\n  - iqn: " + A + "\n    luns: [" + VOL0 + "]\n  - iqn: " + B + "\n");
        Config neu = parse("targets:\n  - iqn: " + A + "\n  - iqn: " + B + "\n    luns: [" + VOL0 + "]\n");
        ConfigDiff diff = ConfigDiff.between(old, neu);
        assertThat(diff.changedTargets()).extracting(ConfigDiff.TargetDiff::iqn).containsExactly(A, B);
        assertThat(diff.changedTargets().get(0).removedLuns()).extracting(LunConfig::name).containsExactly("vol0");
        assertThat(diff.changedTargets().get(1).addedLuns()).extracting(LunConfig::name).containsExactly("vol0");
    }

    @Test
    void fromTheDemoToTheExample() throws Exception {
        Config example = ConfigLoader.load(Path.of(getClass().getResource("/config-example.yaml").toURI()));
        ConfigDiff diff = ConfigDiff.between(Config.demo(), example);
        assertThat(diff.removedTargets()).extracting(TargetConfig::iqn).containsExactly(Config.DEMO_TARGET);
        assertThat(diff.addedTargets()).extracting(TargetConfig::iqn).containsExactly("iqn.2026-11.org.example:store1");
        assertThat(diff.serverChanges()).containsExactly("state-dir"); // the demo's lies in the working directory
    }
}
