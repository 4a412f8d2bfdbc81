package org.rtarget.backend.ploop;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A bitmap of virtual clusters changed in the top while a merge copies it. Writers set bits after
 * their data is in the file; the copier clears a bit before it reads the cluster. So a change the
 * copy may have missed always leaves its bit set for the next pass.
 */
final class DirtyClusters {

    private static final VarHandle WORDS = MethodHandles.arrayElementVarHandle(long[].class);

    private final long[] words;
    private final int clusters;

    DirtyClusters(int clusters) {
        this.clusters = clusters;
        this.words = new long[(clusters + 63) >>> 6];
    }

    /** Marks clusters {@code first} to {@code last}, inclusive. */
    void mark(int first, int last) {
        for (int vc = first; vc <= last; vc++) {
            long bit = 1L << vc;
            if (((long) WORDS.getAcquire(words, vc >>> 6) & bit) == 0) {
                WORDS.getAndBitwiseOr(words, vc >>> 6, bit);
            }
        }
    }

    /** Clears the bit of {@code vc}; whether it was set. */
    boolean clear(int vc) {
        long bit = 1L << vc;
        return ((long) WORDS.getAndBitwiseAnd(words, vc >>> 6, ~bit) & bit) != 0;
    }

    /** The first marked cluster at or after {@code from}, or -1. */
    int next(int from) {
        for (int w = from >>> 6; w < words.length; w++) {
            long word = (long) WORDS.getAcquire(words, w);
            if (w == from >>> 6) {
                word &= -1L << from;
            }
            if (word != 0) {
                int vc = (w << 6) + Long.numberOfTrailingZeros(word);
                return vc < clusters ? vc : -1;
            }
        }
        return -1;
    }

    /** How many clusters are marked (a snapshot; writers may be adding more). */
    int count() {
        int n = 0;
        for (int w = 0; w < words.length; w++) {
            n += Long.bitCount((long) WORDS.getAcquire(words, w));
        }
        return n;
    }
}
