package org.rtarget.config;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.yaml.snakeyaml.nodes.Node;

/** Walks a composed YAML document into a {@link Config}, reporting every problem on the way. */
final class ConfigReader {

    static final List<String> ROOT_KEYS = List.of("server", "targets");

    private final Path baseDir;
    private final Problems problems;

    ConfigReader(Path baseDir, Problems problems) {
        this.baseDir = baseDir;
        this.problems = problems;
    }

    /** @param root the document, or null for an empty one; the result is empty if anything was reported */
    Optional<Config> read(Node root, Path source) {
        Optional<YamlMap> document = YamlMap.read(root, "", ROOT_KEYS, problems);
        if (document.isEmpty()) {
            return Optional.empty();
        }
        ServerConfig server = new ServerReader(baseDir, problems).read(document.get());
        List<TargetConfig> targets = readTargets(document.get());
        return problems.isEmpty() ? Optional.of(new Config(source, server, targets)) : Optional.empty();
    }

    private List<TargetConfig> readTargets(YamlMap document) {
        Optional<YamlList> list = document.list("targets");
        if (list.isEmpty()) {
            return List.of();
        }
        TargetReader reader = new TargetReader(baseDir, problems);
        UniqueNames iqns = new UniqueNames();
        UniqueNames lunNames = new UniqueNames();
        List<TargetConfig> targets = new ArrayList<>();
        for (int i = 0; i < list.get().size(); i++) {
            list.get().map(i, TargetReader.TARGET_KEYS)
                    .flatMap(target -> reader.read(target, iqns, lunNames))
                    .ifPresent(targets::add);
        }
        return targets;
    }
}
