package org.rtarget.config;

import java.util.Objects;

/** A CHAP user name and where its secret comes from. Printing it never shows the secret. */
public record ChapCredentials(String user, SecretSource secret) {

    public ChapCredentials {
        Objects.requireNonNull(user, "user");
        Objects.requireNonNull(secret, "secret");
    }
}
