package org.rtarget.config;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;

/**
 * A YAML mapping with a fixed set of known keys. Reading it reports unknown and duplicate
 * keys; the typed getters report missing and malformed values, and every report points at
 * the offending node (a missing key at the mapping itself).
 */
final class YamlMap {

    private final Node node;
    private final String path;
    private final Problems problems;
    private final Map<String, NodeTuple> entries = new LinkedHashMap<>();

    private YamlMap(Node node, String path, Problems problems) {
        this.node = node;
        this.path = path;
        this.problems = problems;
    }

    /**
     * The node as a mapping that may only use {@code knownKeys}. {@code key:} without a value
     * is an empty mapping, and so is a null node (an empty document).
     */
    static Optional<YamlMap> read(Node node, String path, List<String> knownKeys, Problems problems) {
        YamlMap map = new YamlMap(node, path, problems);
        if (node == null || Nodes.isNull(node)) {
            return Optional.of(map);
        }
        if (!(node instanceof MappingNode mapping)) {
            problems.at(node, path, "expected a mapping, found " + Nodes.kind(node));
            return Optional.empty();
        }
        for (NodeTuple tuple : mapping.getValue()) {
            map.add(tuple, knownKeys);
        }
        return Optional.of(map);
    }

    private void add(NodeTuple tuple, List<String> knownKeys) {
        if (!(tuple.getKeyNode() instanceof ScalarNode keyNode) || Nodes.isNull(keyNode)) {
            problems.at(tuple.getKeyNode(), path, "keys must be plain words, found " + Nodes.kind(tuple.getKeyNode()));
            return;
        }
        String key = keyNode.getValue();
        if (!knownKeys.contains(key)) {
            String hint = EditDistance.closest(key, knownKeys).map(k -> " (did you mean " + k + "?)").orElse("");
            problems.at(keyNode, pathOf(key), "unknown key" + hint);
            return;
        }
        NodeTuple first = entries.putIfAbsent(key, tuple);
        if (first != null) {
            problems.at(keyNode, pathOf(key),
                    "duplicate key (first on line " + (first.getKeyNode().getStartMark().getLine() + 1) + ")");
        }
    }

    /** Where errors about the mapping as a whole point (e.g. a missing key). */
    Node node() {
        return node;
    }

    String path() {
        return path;
    }

    String pathOf(String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    boolean has(String key) {
        return entries.containsKey(key);
    }

    Node keyNode(String key) {
        return entries.get(key).getKeyNode();
    }

    Node valueNode(String key) {
        return entries.get(key).getValueNode();
    }

    /** The value's text as written, for messages; null when absent or not a scalar. */
    String text(String key) {
        return has(key) && valueNode(key) instanceof ScalarNode scalar ? scalar.getValue() : null;
    }

    /** Reports a problem with the value of a key that is present. */
    void valueError(String key, String message) {
        problems.at(valueNode(key), pathOf(key), message);
    }

    /** Reports a key that is present but should not be. */
    void keyError(String key, String message) {
        problems.at(keyNode(key), pathOf(key), message);
    }

    /** Reports a key that is absent, at the enclosing mapping. */
    void missing(String key, String message) {
        problems.at(node, pathOf(key), message);
    }

    <T> Optional<T> optional(String key, ScalarType<T> type) {
        return has(key) ? Nodes.scalar(valueNode(key), pathOf(key), type, problems) : Optional.empty();
    }

    <T> T optional(String key, ScalarType<T> type, T defaultValue) {
        return optional(key, type).orElse(defaultValue);
    }

    <T> Optional<T> required(String key, ScalarType<T> type) {
        if (!has(key)) {
            missing(key, "is required");
            return Optional.empty();
        }
        return optional(key, type);
    }

    Optional<YamlMap> map(String key, List<String> knownKeys) {
        return has(key) ? read(valueNode(key), pathOf(key), knownKeys, problems) : Optional.empty();
    }

    Optional<YamlList> list(String key) {
        return has(key) ? YamlList.read(valueNode(key), pathOf(key), problems) : Optional.empty();
    }
}
