package org.rtarget.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.rtarget.config.ConfigErrorsTest.errors;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code server.admin-token-file} and {@code server.admin-tls}, and the rule that binds them to {@code admin}. */
class AdminSecurityConfigTest {

    private static final Path BASE = Path.of("/srv/rtarget");

    private static ServerConfig server(String yaml) throws ConfigException {
        return ConfigLoader.parse(yaml, "targets.yaml", BASE).server();
    }

    @Test
    void withoutTheKeysTheEndpointIsPlainAndOpenOnLoopback() throws ConfigException {
        ServerConfig server = server("server:\n  admin: \"127.0.0.1:8080\"\n");
        assertThat(server.adminTokenFile()).isNull();
        assertThat(server.adminTls()).isNull();
        assertThat(server.adminOnLoopback()).isTrue();
        assertThat(ServerConfig.defaults(BASE).adminTokenFile()).isNull();
        assertThat(ServerConfig.defaults(BASE).adminTls()).isNull();
    }

    @Test
    void selfSignedAndATokenFileRelativeToTheConfig() throws ConfigException {
        ServerConfig server = server("""
                server:
                  admin: "0.0.0.0:8443"
                  admin-token-file: secrets/admin-token
                  admin-tls: self-signed
                """);
        assertThat(server.adminTokenFile()).isEqualTo(BASE.resolve("secrets/admin-token"));
        assertThat(server.adminTls()).isEqualTo(AdminTlsConfig.SELF_SIGNED);
        assertThat(server.adminTls().selfSigned()).isTrue();
        assertThat(server.adminTls()).hasToString("self-signed");
    }

    @Test
    void pemCertificateAndKey() throws ConfigException {
        ServerConfig server = server("""
                server:
                  admin-tls:
                    cert: /etc/iscsi-target/admin.crt
                    key: admin.key
                """);
        assertThat(server.adminTls().selfSigned()).isFalse();
        assertThat(server.adminTls().cert()).isEqualTo(Path.of("/etc/iscsi-target/admin.crt"));
        assertThat(server.adminTls().key()).isEqualTo(BASE.resolve("admin.key"));
    }

    @Test
    void beyondLoopbackWithoutATokenIsRefused() {
        assertThat(errors("""
                server:
                  admin: "0.0.0.0:8080"
                  admin-tls: self-signed
                """)).containsExactly("targets.yaml:2:10: server.admin: listens beyond loopback (0.0.0.0): "
                + "set server.admin-token-file too (a file holding the bearer token clients must send)");
        assertThat(errors("server:\n  admin: \"[::]:8080\"\n")).containsExactly("targets.yaml:2:10: server.admin: "
                + "listens beyond loopback (::): set server.admin-token-file too (a file holding the bearer token "
                + "clients must send)");
        assertThat(errors("server:\n  admin: 192.0.2.7\n")).hasSize(1);
        assertThat(errors("server:\n  admin: admin.example.org:8080\n")).hasSize(1);
    }

    @ParameterizedTest
    @ValueSource(strings = {"127.0.0.1:8080", "127.1.2.3", "localhost:9000", "LOCALHOST", "\"[::1]:8080\"",
            "\"[::ffff:127.0.0.1]:8080\"", "\"[0:0:0:0:0:0:0:1]\""})
    void loopbackNeedsNoToken(String admin) throws ConfigException {
        assertThat(server("server:\n  admin: " + admin + "\n").adminOnLoopback()).isTrue();
    }

    @Test
    void loopbackIsDecidedWithoutDns() {
        assertThat(ServerConfig.isLoopback("127.0.0.1")).isTrue();
        assertThat(ServerConfig.isLoopback("::1")).isTrue();
        assertThat(ServerConfig.isLoopback("::")).isFalse();
        assertThat(ServerConfig.isLoopback("::2")).isFalse();
        assertThat(ServerConfig.isLoopback("::ffff:10.0.0.1")).isFalse();
        assertThat(ServerConfig.isLoopback("0.0.0.0")).isFalse();
        assertThat(ServerConfig.isLoopback("128.0.0.1")).isFalse();
        assertThat(ServerConfig.isLoopback("localhost.example.org")).isFalse();
    }

    @Test
    void badAdminTlsValues() {
        assertThat(errors("""
                server:
                  admin-tls: yes
                """)).containsExactly("targets.yaml:2:14: server.admin-tls: expected self-signed or "
                + "{cert: PEM-FILE, key: PEM-FILE}, found \"yes\"");
        assertThat(errors("""
                server:
                  admin-tls: [a.pem]
                """)).containsExactly("targets.yaml:2:14: server.admin-tls: expected self-signed or "
                + "{cert: PEM-FILE, key: PEM-FILE}, found a list");
        assertThat(errors("""
                server:
                  admin-tls:
                """)).containsExactly("targets.yaml:2:13: server.admin-tls: expected self-signed or "
                + "{cert: PEM-FILE, key: PEM-FILE}, found no value");
        //       col: 14 = '{', 15 = 'c'; "certs: x" is an unknown key, key is missing
        assertThat(errors("""
                server:
                  admin-tls: {cert: a.pem, kye: a.key}
                """)).containsExactly(
                "targets.yaml:2:14: server.admin-tls.key: is required",
                "targets.yaml:2:28: server.admin-tls.kye: unknown key (did you mean key?)");
    }

    @Test
    void emptyTokenFile() {
        assertThat(errors("""
                server:
                  admin-token-file: ""
                """)).containsExactly("targets.yaml:2:21: server.admin-token-file: must not be empty");
    }

    @Test
    void misspelledKeysGetAHint() {
        assertThat(errors("server:\n  admin-token-fil: /x\n"))
                .containsExactly("targets.yaml:2:3: server.admin-token-fil: unknown key (did you mean admin-token-file?)");
    }
}
