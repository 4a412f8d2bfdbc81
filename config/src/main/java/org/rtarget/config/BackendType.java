package org.rtarget.config;

import java.util.Locale;

/** Where a LUN's blocks live. The YAML spells each one in lower case. */
public enum BackendType {
    /** RAM only; lost on restart. */
    MEMORY,
    /** A raw image file (or a host block device), created sparse if missing. */
    FILE,
    /** A ploop image chain: base first, writable top last. */
    PLOOP,
    /** A ublk-style user-space driver process that can crash and be restarted. */
    UBLK;

    /** The word used in the YAML {@code backend:} key. */
    public String yamlName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
