package org.rtarget.config;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.ScalarNode;

/** Reads the optional {@code server:} section; whatever it leaves out takes the defaults. */
final class ServerReader {

    static final List<String> SERVER_KEYS = List.of("portals", "admin", "state-dir", "standby-check",
            "nop-interval", "nop-timeout", "login-timeout", "max-recv-data-segment-length", "discovery-auth",
            "max-sessions-per-target", "max-sessions-per-initiator", "admin-token-file", "admin-tls");
    static final List<String> ADMIN_TLS_KEYS = List.of("cert", "key");
    static final String SELF_SIGNED = "self-signed";

    private final Path baseDir;
    private final Problems problems;

    ServerReader(Path baseDir, Problems problems) {
        this.baseDir = baseDir;
        this.problems = problems;
    }

    ServerConfig read(YamlMap root) {
        ServerConfig defaults = ServerConfig.defaults(baseDir);
        Optional<YamlMap> section = root.map("server", SERVER_KEYS);
        if (section.isEmpty()) {
            return defaults;
        }
        YamlMap map = section.get();
        ServerConfig server = new ServerConfig(
                readPortals(map).orElse(defaults.portals()),
                map.optional("admin", Scalars.hostPort(HostPort.DEFAULT_ADMIN_PORT), defaults.admin()),
                map.optional("state-dir", Scalars.path(baseDir), defaults.stateDir()),
                map.optional("standby-check", Scalars.BOOLEAN, defaults.standbyCheck()),
                map.optional("nop-interval", Scalars.DURATION, defaults.nopInterval()),
                map.optional("nop-timeout", Scalars.POSITIVE_DURATION, defaults.nopTimeout()),
                map.optional("login-timeout", Scalars.POSITIVE_DURATION, defaults.loginTimeout()),
                map.optional("max-recv-data-segment-length", Scalars.integer(
                        ServerConfig.MIN_MAX_RECV_DATA_SEGMENT_LENGTH, ServerConfig.MAX_MAX_RECV_DATA_SEGMENT_LENGTH),
                        defaults.maxRecvDataSegmentLength()),
                new AuthReader(baseDir).read(map, "discovery-auth").orElse(null),
                map.optional("max-sessions-per-target", Scalars.integer(1, ServerConfig.MAX_SESSIONS),
                        defaults.maxSessionsPerTarget()),
                map.optional("max-sessions-per-initiator", Scalars.integer(1, ServerConfig.MAX_SESSIONS),
                        defaults.maxSessionsPerInitiator()),
                map.optional("admin-token-file", Scalars.path(baseDir)).orElse(null),
                readAdminTls(map).orElse(null));
        if (map.has("admin") && !server.adminOnLoopback() && server.adminTokenFile() == null
                && !map.has("admin-token-file")) {
            map.valueError("admin", "listens beyond loopback (" + server.admin().host()
                    + "): set server.admin-token-file too (a file holding the bearer token clients must send)");
        }
        return server;
    }

    /** {@code admin-tls: self-signed} or {@code admin-tls: {cert: PEM, key: PEM}}. */
    private Optional<AdminTlsConfig> readAdminTls(YamlMap server) {
        if (!server.has("admin-tls")) {
            return Optional.empty();
        }
        Node value = server.valueNode("admin-tls");
        if (value instanceof ScalarNode scalar && !Nodes.isNull(scalar)) {
            if (scalar.getValue().equals(SELF_SIGNED)) {
                return Optional.of(AdminTlsConfig.SELF_SIGNED);
            }
            server.valueError("admin-tls", "expected self-signed or {cert: PEM-FILE, key: PEM-FILE}, found \""
                    + scalar.getValue() + "\"");
            return Optional.empty();
        }
        if (!(value instanceof MappingNode)) {
            server.valueError("admin-tls", "expected self-signed or {cert: PEM-FILE, key: PEM-FILE}, found "
                    + Nodes.kind(value));
            return Optional.empty();
        }
        Optional<YamlMap> tls = server.map("admin-tls", ADMIN_TLS_KEYS);
        if (tls.isEmpty()) {
            return Optional.empty();
        }
        Optional<Path> cert = tls.get().required("cert", Scalars.path(baseDir));
        Optional<Path> key = tls.get().required("key", Scalars.path(baseDir));
        return cert.isPresent() && key.isPresent()
                ? Optional.of(new AdminTlsConfig(cert.get(), key.get()))
                : Optional.empty();
    }

    private Optional<List<HostPort>> readPortals(YamlMap server) {
        Optional<YamlList> list = server.list("portals");
        if (list.isEmpty()) {
            return Optional.empty();
        }
        if (list.get().isEmpty()) {
            problems.at(list.get().node(), list.get().path(), "needs at least one portal");
            return Optional.empty();
        }
        Map<HostPort, Integer> seen = new LinkedHashMap<>();
        for (int i = 0; i < list.get().size(); i++) {
            int index = i;
            Nodes.scalar(list.get().item(i), list.get().pathOf(i),
                    Scalars.hostPort(HostPort.DEFAULT_PORTAL_PORT), problems).ifPresent(portal -> {
                Integer first = seen.putIfAbsent(portal, index);
                if (first != null) {
                    problems.at(list.get().item(index), list.get().pathOf(index),
                            "duplicate portal " + portal + " (" + list.get().pathOf(first) + " has it too)");
                }
            });
        }
        return Optional.of(List.copyOf(seen.keySet()));
    }
}
