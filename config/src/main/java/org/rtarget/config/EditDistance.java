package org.rtarget.config;

import java.util.Collection;
import java.util.Comparator;
import java.util.Optional;

/** "Did you mean ...?" for misspelt keys and names. */
final class EditDistance {

    static final int MAX_SUGGESTION_DISTANCE = 2;

    private EditDistance() {
    }

    /** The candidate nearest to {@code word}, if it is at most two edits away; ties go to the first. */
    static Optional<String> closest(String word, Collection<String> candidates) {
        return closest(word, candidates, MAX_SUGGESTION_DISTANCE);
    }

    static Optional<String> closest(String word, Collection<String> candidates, int maxDistance) {
        return candidates.stream()
                .filter(candidate -> distance(word, candidate) <= maxDistance)
                .min(Comparator.comparingInt((String candidate) -> distance(word, candidate)));
    }

    /** Levenshtein distance, counting a swap of two neighbours as one edit. */
    static int distance(String a, String b) {
        int[][] d = new int[a.length() + 1][b.length() + 1];
        for (int i = 0; i <= a.length(); i++) {
            d[i][0] = i;
        }
        for (int j = 0; j <= b.length(); j++) {
            d[0][j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                d[i][j] = Math.min(Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + cost);
                if (i > 1 && j > 1 && a.charAt(i - 1) == b.charAt(j - 2) && a.charAt(i - 2) == b.charAt(j - 1)) {
                    d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
                }
            }
        }
        return d[a.length()][b.length()];
    }
}
