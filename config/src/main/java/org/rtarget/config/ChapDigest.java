package org.rtarget.config;

import java.util.Locale;

/**
 * A hash function CHAP may use ({@code auth.algorithms}), spelled in the YAML as {@code md5},
 * {@code sha1}, {@code sha256} and {@code sha3-256}. Weakest first.
 */
public enum ChapDigest {
    MD5,
    SHA1,
    SHA256,
    SHA3_256;

    /** The word used in the YAML. */
    public String yamlName() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }
}
