package org.rtarget.config;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.SequenceNode;

/** A YAML sequence with the key path of each item ({@code luns[2]}) for error messages. */
final class YamlList {

    private final Node node;
    private final String path;
    private final List<Node> items;
    private final Problems problems;

    private YamlList(Node node, String path, List<Node> items, Problems problems) {
        this.node = node;
        this.path = path;
        this.items = items;
        this.problems = problems;
    }

    /** The node as a list; {@code key:} without a value is an empty list; anything else is reported. */
    static Optional<YamlList> read(Node node, String path, Problems problems) {
        if (Nodes.isNull(node)) {
            return Optional.of(new YamlList(node, path, List.of(), problems));
        }
        if (node instanceof SequenceNode sequence) {
            return Optional.of(new YamlList(node, path, sequence.getValue(), problems));
        }
        problems.at(node, path, "expected a list, found " + Nodes.kind(node));
        return Optional.empty();
    }

    Node node() {
        return node;
    }

    String path() {
        return path;
    }

    int size() {
        return items.size();
    }

    boolean isEmpty() {
        return items.isEmpty();
    }

    Node item(int index) {
        return items.get(index);
    }

    String pathOf(int index) {
        return path + "[" + index + "]";
    }

    /** Every item read as {@code type}; bad items are reported and left out. */
    <T> List<T> scalars(ScalarType<T> type) {
        List<T> values = new ArrayList<>();
        for (int i = 0; i < items.size(); i++) {
            Nodes.scalar(items.get(i), pathOf(i), type, problems).ifPresent(values::add);
        }
        return values;
    }

    /** Item {@code index} as a mapping with the given keys. */
    Optional<YamlMap> map(int index, List<String> knownKeys) {
        return YamlMap.read(items.get(index), pathOf(index), knownKeys, problems);
    }
}
