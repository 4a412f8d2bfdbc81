package org.rtarget.config;

import java.nio.file.Path;

/**
 * TLS for the admin endpoint ({@code server.admin-tls}): {@code self-signed}, or a PEM certificate
 * (chain) and its PEM private key, {@code {cert: PATH, key: PATH}}.
 *
 * @param cert the certificate chain file; null for a self-signed certificate
 * @param key  the private key file (PKCS#8 or PKCS#1 PEM); null for a self-signed certificate
 */
public record AdminTlsConfig(Path cert, Path key) {

    /** {@code admin-tls: self-signed}: made at first start and kept under {@code <state-dir>/admin/}. */
    public static final AdminTlsConfig SELF_SIGNED = new AdminTlsConfig(null, null);

    public AdminTlsConfig {
        if ((cert == null) != (key == null)) {
            throw new IllegalArgumentException("give both cert and key, or neither (self-signed)");
        }
    }

    public boolean selfSigned() {
        return cert == null;
    }

    /** As the YAML says it. */
    @Override
    public String toString() {
        return selfSigned() ? "self-signed" : "{cert: " + cert + ", key: " + key + "}";
    }
}
