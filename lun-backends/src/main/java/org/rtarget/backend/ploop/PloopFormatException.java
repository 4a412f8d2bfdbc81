package org.rtarget.backend.ploop;

import java.io.IOException;
import java.nio.file.Path;

/** A file is not a usable ploop image, or a chain of them does not fit together: names the file and what is wrong. */
public final class PloopFormatException extends IOException {

    private final transient Path file;

    public PloopFormatException(Path file, String problem) {
        super("ploop image " + file + ": " + problem);
        this.file = file;
    }

    /** The image the problem was found in. */
    public Path file() {
        return file;
    }
}
