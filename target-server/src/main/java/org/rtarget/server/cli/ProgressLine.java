package org.rtarget.server.cli;

import java.io.PrintStream;

/**
 * A progress bar on one line of standard error for long operations (merge, preallocation),
 * redrawn in place and at most a few times a second; standard output stays for the result.
 */
final class ProgressLine {
    private static final int WIDTH = 40;
    private static final long MIN_REDRAW_NANOS = 200_000_000L;

    private final String label;
    private final String unit;
    private final PrintStream err = System.err;
    private long lastDrawn;
    private boolean drawn;

    ProgressLine(String label, String unit) {
        this.label = label;
        this.unit = unit;
    }

    /** Draws {@code done} of {@code total}; the final step is always drawn. */
    void show(long done, long total) {
        long now = System.nanoTime();
        if (total <= 0 || drawn && done < total && now - lastDrawn < MIN_REDRAW_NANOS) {
            return;
        }
        lastDrawn = now;
        drawn = true;
        int filled = (int) Math.min(WIDTH, done * WIDTH / total);
        err.printf("\r%s [%s%s] %d/%d %s", label, "#".repeat(filled), " ".repeat(WIDTH - filled), done, total, unit);
        err.flush();
    }

    /** Clears the line, so that what follows starts on a clean one. */
    void clear() {
        if (drawn) {
            err.print("\r" + " ".repeat(label.length() + WIDTH + 40) + "\r");
            err.flush();
        }
    }
}
