package org.rtarget.config;

import java.util.Collections;
import java.util.EnumSet;
import java.util.Objects;
import java.util.Set;

/**
 * CHAP settings of a target (or of discovery sessions).
 *
 * @param chap       what the initiator must prove
 * @param mutual     what the target proves back; null for one-way CHAP
 * @param algorithms the CHAP hash functions the target accepts ({@code algorithms}); all of them by default
 */
public record AuthConfig(ChapCredentials chap, ChapCredentials mutual, Set<ChapDigest> algorithms) {

    public AuthConfig {
        Objects.requireNonNull(chap, "chap");
        if (algorithms.isEmpty()) {
            throw new IllegalArgumentException("CHAP needs at least one algorithm");
        }
        algorithms = Collections.unmodifiableSet(EnumSet.copyOf(algorithms));
    }

    /** CHAP with every algorithm allowed. */
    public AuthConfig(ChapCredentials chap, ChapCredentials mutual) {
        this(chap, mutual, EnumSet.allOf(ChapDigest.class));
    }
}
