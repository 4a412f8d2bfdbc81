package org.rtarget.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where each ploop LUN's live delta chain is remembered ({@code <state-dir>/ploop/<lun>.chain}):
 * a snapshot or merge through the running server changes the chain, and the configuration file
 * still lists the old one. At the next start the remembered chain wins as long as the
 * configuration still lists what it listed when the chain was recorded; once an operator edits the
 * LUN's {@code deltas}, the configuration wins again. (ploop keeps the same fact in
 * DiskDescriptor.xml.)
 */
final class PloopChains {
    private static final Logger log = LoggerFactory.getLogger(PloopChains.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private final Path dir;

    PloopChains(Path stateDir) {
        this.dir = stateDir.resolve("ploop");
    }

    /** The chain to open for a LUN whose configuration lists {@code configured}. */
    List<Path> chainFor(String lun, List<Path> configured) {
        Path file = dir.resolve(lun + ".chain");
        if (!Files.exists(file)) {
            return configured;
        }
        try {
            JsonNode node = JSON.readTree(file.toFile());
            if (!paths(node.path("configured")).equals(absolute(configured))) {
                return configured; // the operator changed deltas: the configuration wins
            }
            List<Path> live = paths(node.path("live"));
            if (!live.equals(absolute(configured))) {
                log.info("ploop LUN {}: opening its live chain {} (changed by snapshot or merge since the "
                        + "configuration listed {})", lun, live, configured);
            }
            return live;
        } catch (IOException e) {
            log.warn("ploop LUN {}: cannot read {} ({}); opening the configured chain", lun, file, e.getMessage());
            return configured;
        }
    }

    /** Records the live chain of a LUN (after it opened, and after every change). */
    void record(String lun, List<Path> configured, List<Path> live) {
        try {
            Files.createDirectories(dir);
            ObjectNode node = JSON.createObjectNode();
            absolute(configured).forEach(p -> node.withArray("configured").add(p.toString()));
            absolute(live).forEach(p -> node.withArray("live").add(p.toString()));
            Path tmp = dir.resolve(lun + ".chain.tmp");
            JSON.writerWithDefaultPrettyPrinter().writeValue(tmp.toFile(), node);
            Files.move(tmp, dir.resolve(lun + ".chain"), StandardCopyOption.REPLACE_EXISTING,
                    StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            log.warn("ploop LUN {}: cannot record its chain in {}: {}", lun, dir, e.getMessage());
        }
    }

    private static List<Path> paths(JsonNode array) {
        List<Path> out = new ArrayList<>();
        array.forEach(n -> out.add(Path.of(n.asText())));
        return out;
    }

    private static List<Path> absolute(List<Path> paths) {
        return paths.stream().map(p -> p.toAbsolutePath().normalize()).toList();
    }
}
