package org.rtarget.config;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/** Turns a {@link ConfigDiff} into the lines an operator reads after a reload. */
final class DiffSummary {

    private DiffSummary() {
    }

    static List<String> lines(ConfigDiff diff) {
        List<String> lines = new ArrayList<>();
        for (ConfigDiff.Key<ServerConfig> key : ConfigDiff.SERVER_KEYS) {
            if (diff.serverChanges().contains(key.name())) {
                lines.add("server: " + serverChange(key, diff.old().server(), diff.neu().server()));
            }
        }
        for (TargetConfig target : diff.removedTargets()) {
            lines.add("target " + target.iqn() + ": removed");
        }
        for (TargetConfig target : diff.addedTargets()) {
            lines.add("target " + target.iqn() + ": added with " + plural(target.luns().size(), "lun"));
        }
        for (ConfigDiff.TargetDiff target : diff.changedTargets()) {
            String prefix = "target " + target.iqn() + ": ";
            for (String key : target.changedSettings()) {
                lines.add(prefix + settingChange(key, target.old(), target.neu()));
            }
            for (LunConfig lun : target.removedLuns()) {
                lines.add(prefix + lun(lun) + " removed");
            }
            for (LunConfig lun : target.addedLuns()) {
                lines.add(prefix + lun(lun) + " added");
            }
            for (ConfigDiff.LunChange change : target.resizedLuns()) {
                lines.add(prefix + lun(change.neu()) + " resized " + Sizes.format(change.old().size())
                        + " -> " + Sizes.format(change.neu().size()));
            }
            for (ConfigDiff.LunChange change : target.rebuiltLuns()) {
                lines.add(prefix + lun(change.neu()) + " rebuilt (" + String.join(", ", change.changedKeys())
                        + " changed)");
            }
        }
        return lines;
    }

    /** CHAP settings only say that they changed; the rest show both values. */
    private static String serverChange(ConfigDiff.Key<ServerConfig> key, ServerConfig old, ServerConfig neu) {
        if (key.name().equals("discovery-auth")) {
            return "discovery-auth changed";
        }
        return key.name() + " " + show(key.value().apply(old)) + " -> " + show(key.value().apply(neu));
    }

    private static String show(Object value) {
        return switch (value) {
            case null -> "(none)";
            case Duration duration -> Durations.format(duration);
            case List<?> list -> list.stream().map(String::valueOf).collect(Collectors.joining(", ", "[", "]"));
            default -> String.valueOf(value);
        };
    }

    /** Values are shown for the plain settings; auth and acl only say that they changed. */
    private static String settingChange(String key, TargetConfig old, TargetConfig neu) {
        return switch (key) {
            case "alias" -> "alias " + quoted(old.alias()) + " -> " + quoted(neu.alias());
            case "queue-depth" -> "queue-depth " + old.queueDepth() + " -> " + neu.queueDepth();
            default -> key + " changed";
        };
    }

    private static String lun(LunConfig lun) {
        return "lun " + lun.lun() + " (" + lun.name() + ")";
    }

    private static String quoted(String text) {
        return text == null ? "(none)" : "\"" + text + "\"";
    }

    private static String plural(int count, String word) {
        return count + " " + word + (count == 1 ? "" : "s");
    }
}
