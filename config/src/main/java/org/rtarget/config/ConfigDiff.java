package org.rtarget.config;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;

/**
 * What a live reload has to do to get from one config to the next. Targets are matched by
 * iqn, LUNs by number and name together: a renumbered or renamed LUN is a removal plus an
 * addition, because its name is its identity (state files, NAA id, serial). Apply removals
 * before additions, so a LUN name that moves between targets is free when it is added again.
 *
 * @param old            the config being replaced
 * @param neu            the config replacing it
 * @param serverChanges  server keys that changed ({@code portals}, {@code admin}, ...), in YAML spelling
 * @param addedTargets   targets only in the new config
 * @param removedTargets targets only in the old config, as they were
 * @param changedTargets targets in both whose settings or LUNs changed
 */
public record ConfigDiff(Config old, Config neu, List<String> serverChanges, List<TargetConfig> addedTargets,
                         List<TargetConfig> removedTargets, List<TargetDiff> changedTargets) {

    public ConfigDiff {
        Objects.requireNonNull(old, "old");
        Objects.requireNonNull(neu, "neu");
        serverChanges = List.copyOf(serverChanges);
        addedTargets = List.copyOf(addedTargets);
        removedTargets = List.copyOf(removedTargets);
        changedTargets = List.copyOf(changedTargets);
    }

    /**
     * The changes within one target kept across the reload.
     *
     * @param changedSettings target keys that changed: {@code alias}, {@code queue-depth}, {@code auth}, {@code acl}
     * @param addedLuns       LUNs only in the new target
     * @param removedLuns     LUNs only in the old target, as they were
     * @param resizedLuns     LUNs whose only change is a larger size: grow them in place
     * @param rebuiltLuns     LUNs with any other change, a shrink included: reopen them
     */
    public record TargetDiff(TargetConfig old, TargetConfig neu, List<String> changedSettings,
                             List<LunConfig> addedLuns, List<LunConfig> removedLuns,
                             List<LunChange> resizedLuns, List<LunChange> rebuiltLuns) {

        public TargetDiff {
            changedSettings = List.copyOf(changedSettings);
            addedLuns = List.copyOf(addedLuns);
            removedLuns = List.copyOf(removedLuns);
            resizedLuns = List.copyOf(resizedLuns);
            rebuiltLuns = List.copyOf(rebuiltLuns);
        }

        public String iqn() {
            return neu.iqn();
        }

        public boolean isEmpty() {
            return changedSettings.isEmpty() && addedLuns.isEmpty() && removedLuns.isEmpty()
                    && resizedLuns.isEmpty() && rebuiltLuns.isEmpty();
        }
    }

    /**
     * One LUN, same number and name, before and after.
     *
     * @param changedKeys the LUN keys that differ, in YAML spelling ({@code size}, {@code path}, ...)
     */
    public record LunChange(LunConfig old, LunConfig neu, List<String> changedKeys) {
        public LunChange {
            changedKeys = List.copyOf(changedKeys);
        }
    }

    /** One compared key: its YAML name and how to read it from the record. */
    record Key<T>(String name, Function<T, ?> value) {
    }

    // In YAML order, so diffs and summaries list keys the way the file does.
    static final List<Key<LunConfig>> LUN_KEYS = List.of(
            new Key<LunConfig>("backend", LunConfig::backend),
            new Key<LunConfig>("path", LunConfig::path),
            new Key<LunConfig>("size", LunConfig::size),
            new Key<LunConfig>("block-size", LunConfig::blockSize),
            new Key<LunConfig>("read-only", LunConfig::readOnly),
            new Key<LunConfig>("write-cache", LunConfig::writeCache),
            new Key<LunConfig>("deltas", LunConfig::deltas),
            new Key<LunConfig>("driver", LunConfig::driver),
            new Key<LunConfig>("io-threads", LunConfig::ioThreads),
            new Key<LunConfig>("standby-enable", lun -> lun.standby().enable()),
            new Key<LunConfig>("standby-busy-max", lun -> lun.standby().busyMax()),
            new Key<LunConfig>("standby-fallback", lun -> lun.standby().fallback()),
            new Key<LunConfig>("standby-errors", lun -> String.valueOf(lun.standby().errors())),
            new Key<LunConfig>("stall-timeout", lun -> lun.standby().stallTimeout()),
            new Key<LunConfig>("drain-timeout", lun -> lun.standby().drainTimeout()));

    static final List<Key<TargetConfig>> TARGET_KEYS = List.of(
            new Key<TargetConfig>("alias", TargetConfig::alias),
            new Key<TargetConfig>("queue-depth", TargetConfig::queueDepth),
            new Key<TargetConfig>("auth", TargetConfig::auth),
            new Key<TargetConfig>("acl", TargetConfig::acl));

    static final List<Key<ServerConfig>> SERVER_KEYS = List.of(
            new Key<ServerConfig>("portals", ServerConfig::portals),
            new Key<ServerConfig>("admin", ServerConfig::admin),
            new Key<ServerConfig>("state-dir", ServerConfig::stateDir),
            new Key<ServerConfig>("standby-check", ServerConfig::standbyCheck),
            new Key<ServerConfig>("nop-interval", ServerConfig::nopInterval),
            new Key<ServerConfig>("nop-timeout", ServerConfig::nopTimeout),
            new Key<ServerConfig>("login-timeout", ServerConfig::loginTimeout),
            new Key<ServerConfig>("max-recv-data-segment-length", ServerConfig::maxRecvDataSegmentLength),
            new Key<ServerConfig>("discovery-auth", ServerConfig::discoveryAuth),
            new Key<ServerConfig>("max-sessions-per-target", ServerConfig::maxSessionsPerTarget),
            new Key<ServerConfig>("max-sessions-per-initiator", ServerConfig::maxSessionsPerInitiator),
            new Key<ServerConfig>("admin-token-file", ServerConfig::adminTokenFile),
            new Key<ServerConfig>("admin-tls", ServerConfig::adminTls));

    public static ConfigDiff between(Config old, Config neu) {
        List<TargetConfig> added = new ArrayList<>();
        List<TargetDiff> changed = new ArrayList<>();
        for (TargetConfig target : neu.targets()) {
            old.target(target.iqn()).ifPresentOrElse(before -> {
                TargetDiff diff = diff(before, target);
                if (!diff.isEmpty()) {
                    changed.add(diff);
                }
            }, () -> added.add(target));
        }
        List<TargetConfig> removed = old.targets().stream().filter(t -> neu.target(t.iqn()).isEmpty()).toList();
        return new ConfigDiff(old, neu, changedKeys(SERVER_KEYS, old.server(), neu.server()), added, removed, changed);
    }

    public boolean isEmpty() {
        return serverChanges.isEmpty() && addedTargets.isEmpty() && removedTargets.isEmpty()
                && changedTargets.isEmpty();
    }

    public boolean serverChanged() {
        return !serverChanges.isEmpty();
    }

    /** Kept targets whose own settings (alias, queue-depth, auth, acl) changed. */
    public List<TargetDiff> targetsWithChangedSettings() {
        return changedTargets.stream().filter(t -> !t.changedSettings().isEmpty()).toList();
    }

    /** One line per change, for logs and the reload answer; never shows a secret. */
    public List<String> summary() {
        return DiffSummary.lines(this);
    }

    private static TargetDiff diff(TargetConfig old, TargetConfig neu) {
        Map<LunKey, LunConfig> oldLuns = byKey(old.luns());
        Map<LunKey, LunConfig> newLuns = byKey(neu.luns());
        List<LunConfig> added = new ArrayList<>();
        List<LunChange> resized = new ArrayList<>();
        List<LunChange> rebuilt = new ArrayList<>();
        newLuns.forEach((key, lun) -> {
            LunConfig before = oldLuns.get(key);
            if (before == null) {
                added.add(lun);
                return;
            }
            List<String> keys = changedKeys(LUN_KEYS, before, lun);
            if (keys.isEmpty()) {
                return;
            }
            boolean grew = keys.equals(List.of("size")) && before.hasSize() && lun.size() > before.size();
            (grew ? resized : rebuilt).add(new LunChange(before, lun, keys));
        });
        List<LunConfig> removed = oldLuns.entrySet().stream()
                .filter(e -> !newLuns.containsKey(e.getKey())).map(Map.Entry::getValue).toList();
        return new TargetDiff(old, neu, changedKeys(TARGET_KEYS, old, neu), added, removed, resized, rebuilt);
    }

    /** A LUN's identity across reloads. */
    private record LunKey(int lun, String name) {
    }

    private static Map<LunKey, LunConfig> byKey(List<LunConfig> luns) {
        Map<LunKey, LunConfig> map = new LinkedHashMap<>();
        luns.forEach(lun -> map.put(new LunKey(lun.lun(), lun.name()), lun));
        return map;
    }

    private static <T> List<String> changedKeys(List<Key<T>> keys, T old, T neu) {
        return keys.stream()
                .filter(key -> !Objects.equals(key.value().apply(old), key.value().apply(neu)))
                .map(Key::name)
                .toList();
    }
}
