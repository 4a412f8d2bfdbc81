package org.rtarget.config;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.nodes.Node;

/** Collects every error found in one file, so the operator sees them all in one run. */
final class Problems {

    private static final String ROOT_KEY = "(root)";

    private final String file;
    private final List<ConfigError> errors = new ArrayList<>();

    Problems(String file) {
        this.file = file;
    }

    /** An error at a node; a null node (an empty document) means the top of the file. */
    void at(Node node, String key, String message) {
        at(node == null ? null : node.getStartMark(), key, message);
    }

    void at(Mark mark, String key, String message) {
        int line = mark == null ? 1 : mark.getLine() + 1;
        int column = mark == null ? 1 : mark.getColumn() + 1;
        errors.add(new ConfigError(file, line, column, key.isEmpty() ? ROOT_KEY : key, message));
    }

    boolean isEmpty() {
        return errors.isEmpty();
    }

    /** The errors in file order; an aliased node reported twice shows once. */
    ConfigException toException() {
        List<ConfigError> sorted = new ArrayList<>(new LinkedHashSet<>(errors));
        sorted.sort(Comparator.comparingInt(ConfigError::line).thenComparingInt(ConfigError::column));
        return new ConfigException(sorted);
    }
}
