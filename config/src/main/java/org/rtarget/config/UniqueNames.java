package org.rtarget.config;

import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/** Names that must not repeat within a scope, each with the key path of the item that took it first. */
final class UniqueNames {

    private final Map<String, String> owners = new HashMap<>();

    /** Takes {@code name} for the item at {@code path}; if it was taken before, gives that item's path. */
    Optional<String> claim(String name, String path) {
        return Optional.ofNullable(owners.putIfAbsent(name, path));
    }

    boolean contains(String name) {
        return owners.containsKey(name);
    }
}
