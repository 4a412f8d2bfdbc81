package org.rtarget.config;

import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Reads {@code auth:} and {@code discovery-auth:}: {@code {chap: {...}, mutual: {...}, algorithms: [...]}}.
 */
final class AuthReader {

    static final List<String> AUTH_KEYS = List.of("chap", "mutual", "algorithms");
    static final List<String> SECRET_KEYS = List.of("secret", "secret-file", "secret-env");
    static final List<String> CREDENTIAL_KEYS = List.of("user", "secret", "secret-file", "secret-env");

    private final Path baseDir;

    AuthReader(Path baseDir) {
        this.baseDir = baseDir;
    }

    /** Empty when the key is absent, or when it is present but wrong (then reported). */
    Optional<AuthConfig> read(YamlMap parent, String key) {
        Optional<YamlMap> auth = parent.map(key, AUTH_KEYS);
        if (auth.isEmpty()) {
            return Optional.empty();
        }
        YamlMap map = auth.get();
        if (!map.has("chap")) {
            map.missing("chap", "is required when " + key + " is given");
        }
        Optional<ChapCredentials> chap = map.map("chap", CREDENTIAL_KEYS).flatMap(this::credentials);
        Optional<ChapCredentials> mutual = map.map("mutual", CREDENTIAL_KEYS).flatMap(this::credentials);
        boolean mutualOk = !map.has("mutual") || mutual.isPresent();
        Optional<Set<ChapDigest>> algorithms = algorithms(map);
        return chap.filter(c -> mutualOk && algorithms.isPresent())
                .map(c -> new AuthConfig(c, mutual.orElse(null), algorithms.get()));
    }

    /** {@code algorithms: [sha3-256, sha256, sha1, md5]}: which of them the target accepts; all when absent. */
    private static Optional<Set<ChapDigest>> algorithms(YamlMap auth) {
        Optional<YamlList> list = auth.list("algorithms");
        if (list.isEmpty()) {
            return auth.has("algorithms") ? Optional.empty() : Optional.of(EnumSet.allOf(ChapDigest.class));
        }
        if (list.get().isEmpty()) {
            auth.valueError("algorithms", "must not be empty (leave algorithms out to allow every one)");
            return Optional.empty();
        }
        List<ChapDigest> given = list.get().scalars(Scalars.CHAP_DIGEST);
        Set<ChapDigest> distinct = EnumSet.noneOf(ChapDigest.class);
        for (ChapDigest digest : given) {
            if (!distinct.add(digest)) {
                auth.valueError("algorithms", "lists " + digest.yamlName() + " twice");
                return Optional.empty();
            }
        }
        // a bad item has been reported; without any good one there is nothing to build
        return distinct.isEmpty() || given.size() < list.get().size() ? Optional.empty() : Optional.of(distinct);
    }

    private Optional<ChapCredentials> credentials(YamlMap map) {
        Optional<String> user = map.required("user", Scalars.STRING);
        List<String> given = SECRET_KEYS.stream().filter(map::has).toList();
        if (given.isEmpty()) {
            map.missing("secret", "needs one of secret, secret-file or secret-env");
            return Optional.empty();
        }
        if (given.size() > 1) {
            // Point at the second one: the first is usually the intended one.
            map.keyError(given.get(1), "give only one of secret, secret-file or secret-env (" + given.getFirst()
                    + " is given too)");
            return Optional.empty();
        }
        Optional<SecretSource> secret = switch (given.getFirst()) {
            case "secret" -> map.optional("secret", Scalars.STRING).map(SecretSource.Inline::new);
            case "secret-file" -> map.optional("secret-file", Scalars.path(baseDir)).map(SecretSource.FromFile::new);
            default -> map.optional("secret-env", Scalars.ENV_NAME).map(SecretSource.FromEnv::new);
        };
        return user.flatMap(u -> secret.map(s -> new ChapCredentials(u, s)));
    }
}
