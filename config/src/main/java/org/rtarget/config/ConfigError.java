package org.rtarget.config;

import java.util.Objects;

/**
 * One problem in a configuration file, pointing at the node that causes it.
 *
 * @param file    the file name as the operator gave it
 * @param line    1-based line
 * @param column  1-based column
 * @param key     dotted key path such as {@code targets[0].luns[1].size}
 * @param message what is wrong, never containing a secret
 */
public record ConfigError(String file, int line, int column, String key, String message) {

    public ConfigError {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(message, "message");
    }

    /** The compiler-style line that {@code check-config} prints: {@code file:line:col: key: message}. */
    @Override
    public String toString() {
        return file + ":" + line + ":" + column + ": " + key + ": " + message;
    }
}
