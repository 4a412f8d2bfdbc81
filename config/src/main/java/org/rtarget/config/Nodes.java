package org.rtarget.config;

import java.util.Optional;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;
import org.yaml.snakeyaml.nodes.Tag;

/** Small questions about SnakeYAML nodes, and reading one typed scalar with its errors. */
final class Nodes {

    private Nodes() {
    }

    /** {@code key:}, {@code key: ~} or {@code key: null}: present, but without a value. */
    static boolean isNull(Node node) {
        return node instanceof ScalarNode && Tag.NULL.equals(node.getTag());
    }

    /** How a node is named in "found ..." messages. */
    static String kind(Node node) {
        return switch (node) {
            case MappingNode _ -> "a mapping";
            case SequenceNode _ -> "a list";
            case Node n when isNull(n) -> "no value";
            default -> "a string";
        };
    }

    /** The node read as {@code type}; on any problem, reports it at the node and gives empty. */
    static <T> Optional<T> scalar(Node node, String key, ScalarType<T> type, Problems problems) {
        if (isNull(node)) {
            problems.at(node, key, "has no value (expected " + type.description() + ")");
            return Optional.empty();
        }
        if (!(node instanceof ScalarNode scalar)) {
            problems.at(node, key, "expected " + type.description() + ", found " + kind(node));
            return Optional.empty();
        }
        try {
            return Optional.of(type.parse(scalar.getValue()));
        } catch (IllegalArgumentException e) {
            problems.at(node, key, e.getMessage());
            return Optional.empty();
        }
    }
}
