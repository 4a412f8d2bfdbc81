package org.rtarget.config;

import java.io.IOException;
import java.nio.charset.MalformedInputException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Objects;

/**
 * Where a CHAP secret comes from. Resolved when it is needed, so a secret file or
 * variable can change without touching the YAML. No {@code toString()} prints a secret.
 */
public sealed interface SecretSource {

    /** The secret itself. */
    String resolve() throws ConfigException;

    /** {@code secret: "..."} in the YAML. */
    record Inline(String secret) implements SecretSource {
        public Inline {
            Objects.requireNonNull(secret, "secret");
        }

        @Override
        public String resolve() {
            return secret;
        }

        @Override
        public String toString() {
            return "Inline[secret=***]";
        }
    }

    /** {@code secret-file: PATH}: the file's content without its trailing newline. */
    record FromFile(Path file) implements SecretSource {
        public FromFile {
            Objects.requireNonNull(file, "file");
        }

        @Override
        public String resolve() throws ConfigException {
            String content;
            try {
                content = Files.readString(file);
            } catch (NoSuchFileException e) {
                throw failure("no such file");
            } catch (AccessDeniedException e) {
                throw failure("permission denied");
            } catch (MalformedInputException e) {
                throw failure("is not UTF-8 text");
            } catch (IOException e) {
                throw failure("cannot read: " + e.getMessage());
            }
            int end = content.length();
            while (end > 0 && (content.charAt(end - 1) == '\n' || content.charAt(end - 1) == '\r')) {
                end--;
            }
            if (end == 0) {
                throw failure("is empty");
            }
            return content.substring(0, end);
        }

        private ConfigException failure(String message) {
            return new ConfigException(new ConfigError(file.toString(), 1, 1, "secret-file", message));
        }
    }

    /** {@code secret-env: NAME}: the value of an environment variable. */
    record FromEnv(String name) implements SecretSource {
        public FromEnv {
            Objects.requireNonNull(name, "name");
        }

        @Override
        public String resolve() throws ConfigException {
            String value = System.getenv(name);
            if (value == null || value.isEmpty()) {
                throw new ConfigException(new ConfigError("(environment)", 1, 1, "secret-env",
                        "variable " + name + (value == null ? " is not set" : " is empty")));
            }
            return value;
        }
    }
}
