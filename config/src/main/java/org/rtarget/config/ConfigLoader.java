package org.rtarget.config;

import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.MalformedInputException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Optional;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.reader.ReaderException;

/**
 * Loads and validates a configuration file. Every problem, from a YAML syntax error to a
 * duplicate LUN name, comes back as a {@link ConfigException} listing all errors found, each
 * as {@code file:line:col: key: message}; nothing else is thrown.
 */
public final class ConfigLoader {

    private static final String FILE_KEY = "(file)";
    private static final String YAML_KEY = "(yaml)";

    private ConfigLoader() {
    }

    /** Loads {@code file}; relative paths inside it resolve against the file's directory. */
    public static Config load(Path file) throws ConfigException {
        String displayName = file.toString();
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw fileError(displayName, "no such file");
        } catch (AccessDeniedException e) {
            throw fileError(displayName, "permission denied");
        } catch (MalformedInputException e) {
            throw fileError(displayName, "is not UTF-8 text");
        } catch (IOException e) {
            throw fileError(displayName, Files.isDirectory(file) ? "is a directory" : "cannot read: " + e.getMessage());
        }
        Path absolute = file.toAbsolutePath().normalize();
        return parse(text, displayName, absolute.getParent(), absolute);
    }

    /**
     * Parses YAML text that did not come from a file (or whose file the caller read). The
     * result's {@link Config#source()} is null.
     *
     * @param displayName how errors name the text, e.g. the file name
     * @param baseDir     what relative paths resolve against; null for the current directory
     */
    public static Config parse(String yamlText, String displayName, Path baseDir) throws ConfigException {
        return parse(yamlText, displayName, baseDir == null ? Path.of("").toAbsolutePath() : baseDir, null);
    }

    private static Config parse(String yamlText, String displayName, Path baseDir, Path source)
            throws ConfigException {
        Problems problems = new Problems(displayName);
        Node root;
        try {
            root = compose(yamlText);
        } catch (MarkedYAMLException e) {
            Mark mark = e.getProblemMark() != null ? e.getProblemMark() : e.getContextMark();
            problems.at(mark, YAML_KEY, syntaxMessage(e));
            throw problems.toException();
        } catch (ReaderException e) {
            int[] lineColumn = lineColumn(yamlText, e.getPosition());
            throw new ConfigException(new ConfigError(displayName, lineColumn[0], lineColumn[1], YAML_KEY,
                    String.format("character U+%04X is not allowed in YAML", e.getCodePoint())));
        } catch (YAMLException e) {
            throw new ConfigException(new ConfigError(displayName, 1, 1, YAML_KEY, oneLine(e.getMessage())));
        }
        Optional<Config> config;
        try {
            config = new ConfigReader(baseDir, problems).read(root, source);
        } catch (RuntimeException e) {
            // A bug here must still reach the operator as one line, not a stack trace.
            problems.at((Node) null, "(internal)", "cannot read the configuration: " + e);
            throw problems.toException();
        }
        if (config.isEmpty()) {
            throw problems.toException();
        }
        return config.get();
    }

    private static Node compose(String text) {
        LoaderOptions options = new LoaderOptions();
        options.setAllowDuplicateKeys(true); // YamlMap reports duplicates itself, with both lines
        String withoutBom = text.startsWith("\uFEFF") ? text.substring(1) : text;
        return new Yaml(options).compose(new StringReader(withoutBom));
    }

    private static String syntaxMessage(MarkedYAMLException e) {
        String problem = oneLine(e.getProblem());
        String context = e.getContext() == null ? null : oneLine(e.getContext());
        String message;
        if (context == null) {
            message = problem;
        } else if (problem.startsWith("but ")) {
            message = context + " " + problem; // "expected a single document in the stream but found another document"
        } else {
            message = problem + " (" + context + ")";
        }
        if (problem.startsWith("expected <block end>")) {
            message += "; check the indentation";
        }
        if (problem.endsWith("found ':'")) {
            // the usual cause: an unquoted IPv6 address, which YAML reads as a list
            message += "; quote values that start with '[' or ':', as in \"[::]:3260\"";
        }
        return message;
    }

    private static String oneLine(String text) {
        return text == null ? "malformed YAML" : text.strip().replaceAll("\\s+", " ");
    }

    /** 1-based line and column of a character index, for errors SnakeYAML gives without a mark. */
    private static int[] lineColumn(String text, int index) {
        int line = 1;
        int column = 1;
        for (int i = 0; i < Math.min(index, text.length()); i++) {
            if (text.charAt(i) == '\n') {
                line++;
                column = 1;
            } else {
                column++;
            }
        }
        return new int[] {line, column};
    }

    private static ConfigException fileError(String displayName, String message) {
        return new ConfigException(new ConfigError(displayName, 1, 1, FILE_KEY, message));
    }
}
