package org.rtarget.config;

import java.util.Objects;

/**
 * CHAP settings of a target (or of discovery sessions).
 *
 * @param chap   what the initiator must prove
 * @param mutual what the target proves back; null for one-way CHAP
 */
public record AuthConfig(ChapCredentials chap, ChapCredentials mutual) {

    public AuthConfig {
        Objects.requireNonNull(chap, "chap");
    }
}
