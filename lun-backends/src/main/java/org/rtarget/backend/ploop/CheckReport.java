package org.rtarget.backend.ploop;

import java.nio.file.Path;
import java.util.List;

/**
 * The result of {@link PloopImage#check}: what was found wrong in an image, what a repair fixed,
 * and observations that need no fixing.
 *
 * @param findings problems, each saying whether this run fixed it
 * @param notes harmless observations (clusters leaked by an interrupted allocation, a partial last cluster)
 */
public record CheckReport(Path image, List<Finding> findings, List<String> notes) {

    /** The kinds of problems a check looks for. */
    public enum Problem {
        /** The header is unreadable or inconsistent; nothing else was checked. */
        BAD_HEADER,
        /** The in-use mark is set: the image was not closed cleanly (or is open right now). */
        IN_USE,
        /** The header says a format conversion was interrupted. */
        VERSION_CONVERSION,
        /** v1 BAT entry not on a cluster boundary. */
        ENTRY_MISALIGNED,
        /** Non-zero BAT slot after the last virtual cluster. */
        ENTRY_BEYOND_SIZE,
        /** BAT entry pointing into the header and BAT clusters. */
        ENTRY_IN_HEADER,
        /** BAT entry pointing past the end of the file. */
        ENTRY_PAST_EOF,
        /** BAT entry pointing to a cluster an earlier entry already uses. */
        ENTRY_DUPLICATE
    }

    /** One problem, and whether this run fixed it. */
    public record Finding(Problem problem, String description, boolean fixed) {
    }

    public CheckReport {
        findings = List.copyOf(findings);
        notes = List.copyOf(notes);
    }

    /** Nothing was found wrong. */
    public boolean clean() {
        return findings.isEmpty();
    }

    /** Everything found was fixed (or nothing was found): the image is usable as it is now. */
    public boolean consistent() {
        return findings.stream().allMatch(Finding::fixed);
    }

    public boolean found(Problem problem) {
        return findings.stream().anyMatch(f -> f.problem() == problem);
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder(image.toString()).append(": ");
        s.append(clean() ? "no problems found" : findings.size() + " problem(s) found");
        for (Finding f : findings) {
            s.append(System.lineSeparator()).append(f.fixed() ? "  fixed: " : "  found: ").append(f.description());
        }
        for (String note : notes) {
            s.append(System.lineSeparator()).append("  note: ").append(note);
        }
        return s.toString();
    }
}
