package org.rtarget.config;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * A whole, validated configuration. Build one with {@link ConfigLoader} or {@link #demo()}.
 *
 * @param source  the file it was loaded from (absolute), or null for the built-in demo or parsed text
 * @param server  server-wide settings
 * @param targets the targets in file order; may be empty
 */
public record Config(Path source, ServerConfig server, List<TargetConfig> targets) {

    public static final String DEMO_TARGET = "iqn.2026-11.org.rtarget:demo";

    public Config {
        Objects.requireNonNull(server, "server");
        targets = List.copyOf(targets);
    }

    /** What {@code serve} runs without {@code --config}: one 1 GiB memory LUN on 127.0.0.1:3260. */
    public static Config demo() {
        Path here = Path.of("").toAbsolutePath();
        LunConfig lun = new LunConfig(0, "demo", BackendType.MEMORY, null, 1L << 30,
                LunConfig.DEFAULT_BLOCK_SIZE, false, true, List.of(), null, StandbyConfig.defaults());
        TargetConfig target = new TargetConfig(DEMO_TARGET, null, TargetConfig.DEFAULT_QUEUE_DEPTH, null,
                List.of(), List.of(lun));
        return new Config(null, ServerConfig.defaults(here), List.of(target));
    }

    public Optional<TargetConfig> target(String iqn) {
        return targets.stream().filter(t -> t.iqn().equals(iqn)).findFirst();
    }
}
