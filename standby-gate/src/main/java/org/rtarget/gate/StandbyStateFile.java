package org.rtarget.gate;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The exported standby state of one LUN as a file, the way sysfs shows it for a ploop device:
 * {@code <state-dir>/block/<lun-name>/queue/standby} holding "not supported", "on" or "off". Each
 * write replaces the file atomically, so a reader never sees half a word.
 */
public final class StandbyStateFile {
    private static final Logger log = LoggerFactory.getLogger(StandbyStateFile.class);
    private final Path file;

    public StandbyStateFile(Path stateDir, String lunName) {
        this.file = stateDir.resolve("block").resolve(lunName).resolve("queue").resolve("standby");
    }

    public Path path() {
        return file;
    }

    public synchronized void write(String state) {
        try {
            Files.createDirectories(file.getParent());
            Path tmp = file.resolveSibling("standby.tmp");
            Files.writeString(tmp, state + "\n", StandardCharsets.US_ASCII);
            try {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            log.warn("cannot write standby state {} to {}: {}", state, file, e.toString());
        }
    }

    /** Removes the LUN's state directory (the LUN left the target). */
    public synchronized void remove() {
        try {
            Files.deleteIfExists(file);
            Files.deleteIfExists(file.getParent());
            Files.deleteIfExists(file.getParent().getParent());
        } catch (IOException e) {
            log.debug("cannot remove {}: {}", file, e.toString());
        }
    }
}
