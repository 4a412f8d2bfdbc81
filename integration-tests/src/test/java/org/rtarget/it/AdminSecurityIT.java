package org.rtarget.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rtarget.config.ConfigLoader;
import org.rtarget.server.cli.AdminTransport;

/**
 * The admin endpoint's security with the real server: a bearer token from a file (401 without it
 * or with a wrong one), TLS with a self-signed certificate made at first start and kept under
 * {@code <state-dir>/admin/} (reused by the next start), TLS from PEM files, and the refusals at
 * start (beyond loopback without a token, an unreadable token file), each one line.
 */
class AdminSecurityIT {
    private static final Pattern ADMIN = Pattern.compile("admin API and /metrics on (https?)://(\\S+)/");
    private static final String TOKEN = "s3cret-token-for-the-admin-api-0123456789";
    private static final String IQN = "iqn.2026-11.org.rtarget:adminsec";
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private static String config(String adminLines) {
        return """
                server:
                  portals: ["127.0.0.1:0"]
                %s
                  state-dir: state
                targets:
                  - iqn: %s
                    luns:
                      - {lun: 0, name: mem0, backend: memory, size: 16M}
                """.formatted(adminLines.indent(2).stripTrailing(), IQN);
    }

    /** The server, started from the jar with a config in {@code dir}; its admin scheme and address. */
    private record Server(Process process, Path log, String scheme, String address) implements AutoCloseable {
        URI uri(String path) {
            return URI.create(scheme + "://" + address + path);
        }

        @Override
        public void close() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(15, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor();
            }
        }
    }

    private Server start(String yaml) throws Exception {
        Path config = dir.resolve("targets.yaml");
        Files.writeString(config, yaml);
        Path log = dir.resolve("server-" + System.nanoTime() + ".log");
        Process p = new ProcessBuilder(ServerProcess.cli("serve", "--config", config.toString()))
                .redirectErrorStream(true).redirectOutput(log.toFile()).directory(dir.toFile()).start();
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            String text = Files.readString(log);
            Matcher m = ADMIN.matcher(text);
            if (m.find() && text.contains("rtarget is serving on")) {
                return new Server(p, log, m.group(1), m.group(2));
            }
            if (!p.isAlive()) {
                fail("server exited with status " + p.exitValue() + ":\n" + text);
            }
            Thread.sleep(50);
        }
        p.destroyForcibly();
        fail("server did not start within 30 s:\n" + Files.readString(log));
        return null;
    }

    /** Runs serve, expects it to refuse: exit status 1, and its whole output. */
    private String refusal(String yaml) throws Exception {
        Path config = dir.resolve("refused.yaml");
        Files.writeString(config, yaml);
        Tools.Result r = Tools.run(60, ServerProcess.cli("serve", "--config", config.toString()));
        assertThat(r.exitCode()).as("exit status; output:\n" + r.output()).isEqualTo(1);
        return r.output();
    }

    private Path tokenFile(String token) throws IOException {
        Path file = dir.resolve("admin-token");
        Files.writeString(file, token + "\n");
        Files.setPosixFilePermissions(file, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        return file;
    }

    /** An SSLContext that trusts only the certificates in a PEM file. */
    private static SSLContext trusting(Path pem) throws Exception {
        KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
        store.load(null, null);
        try (InputStream in = Files.newInputStream(pem)) {
            int n = 0;
            for (var cert : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                store.setCertificateEntry("c" + n++, cert);
            }
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(store);
        SSLContext ssl = SSLContext.getInstance("TLS");
        ssl.init(null, tmf.getTrustManagers(), null);
        return ssl;
    }

    private static HttpResponse<String> get(HttpClient http, URI uri, String authorization) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(20)).GET();
        if (authorization != null) {
            b.header("Authorization", authorization);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void tokenAndSelfSignedTls() throws Exception {
        tokenFile(TOKEN);
        String yaml = config("""
                  admin: "127.0.0.1:0"
                  admin-token-file: admin-token
                  admin-tls: self-signed""");
        Path cert = dir.resolve("state/admin/admin.crt");
        Path key = dir.resolve("state/admin/admin.key");
        byte[] firstCert;
        try (Server server = start(yaml)) {
            assertThat(server.scheme()).isEqualTo("https");
            assertThat(cert).isRegularFile();
            assertThat(key).isRegularFile();
            assertThat(Files.getPosixFilePermissions(key))
                    .isEqualTo(java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
            firstCert = Files.readAllBytes(cert);

            HttpClient https = HttpClient.newBuilder().sslContext(trusting(cert))
                    .connectTimeout(Duration.ofSeconds(5)).build();
            URI status = server.uri("/api/status");

            HttpResponse<String> none = get(https, status, null);
            assertThat(none.statusCode()).as("no token").isEqualTo(401);
            assertThat(none.headers().firstValue("WWW-Authenticate")).hasValueSatisfying(v -> assertThat(v).startsWith("Bearer"));
            assertThat(none.body()).doesNotContain(IQN);
            assertThat(get(https, status, "Bearer wrong-token-but-long-enough-0123456789").statusCode())
                    .as("wrong token").isEqualTo(401);
            assertThat(get(https, status, "Bearer " + TOKEN.substring(0, TOKEN.length() - 1)).statusCode())
                    .as("the token less its last character").isEqualTo(401);
            assertThat(get(https, status, "Basic " + TOKEN).statusCode()).as("another scheme").isEqualTo(401);
            assertThat(get(https, server.uri("/metrics"), null).statusCode()).isEqualTo(401);

            HttpResponse<String> ok = get(https, status, "Bearer " + TOKEN);
            assertThat(ok.statusCode()).as("right token").isEqualTo(200);
            assertThat(JSON.readTree(ok.body()).path("targets").get(0).path("iqn").asText()).isEqualTo(IQN);
            HttpResponse<String> metrics = get(https, server.uri("/metrics"), "bearer " + TOKEN);
            assertThat(metrics.statusCode()).isEqualTo(200);
            assertThat(metrics.body()).contains("rtarget_standby");
            assertThat(get(https, server.uri("/healthz"), null).statusCode()).as("/healthz").isEqualTo(200);

            // plain HTTP on the TLS port gets no answer
            HttpClient plain = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
            assertThatThrownBy(() -> get(plain, URI.create("http://" + server.address() + "/api/status"), "Bearer " + TOKEN))
                    .isInstanceOf(IOException.class);
            // a client that trusts only the JDK's CAs refuses the self-signed certificate
            assertThatThrownBy(() -> get(plain, status, "Bearer " + TOKEN)).isInstanceOf(IOException.class);

            // the command line's transport, from the same configuration: https, the kept certificate, the token
            AdminTransport cli = AdminTransport.builder()
                    .server(ConfigLoader.load(dir.resolve("targets.yaml")).server())
                    .admin("https://" + server.address())
                    .build();
            assertThat(cli.https()).isTrue();
            assertThat(cli.http().send(cli.request("/api/status").GET().build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
            assertThat(Files.readString(server.log())).doesNotContain(TOKEN);
        }
        // the next start reuses the key and certificate
        try (Server again = start(yaml)) {
            assertThat(Files.readAllBytes(cert)).isEqualTo(firstCert);
            HttpClient https = HttpClient.newBuilder().sslContext(trusting(cert)).build();
            assertThat(get(https, again.uri("/api/status"), "Bearer " + TOKEN).statusCode()).isEqualTo(200);
            assertThat(Files.readString(again.log())).doesNotContain("made a self-signed certificate");
        }
    }

    @Test
    void pemCertificateWithATraditionalRsaKey() throws Exception {
        Tools.require("openssl", "openssl");
        tokenFile(TOKEN);
        Path key = dir.resolve("admin.key");
        Path cert = dir.resolve("admin.crt");
        Tools.run(60, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                "-keyout", dir.resolve("pkcs8.key").toString(), "-out", cert.toString()).ok();
        // PKCS#1 ("BEGIN RSA PRIVATE KEY"): Netty reads it through Bouncy Castle
        Tools.run(60, "openssl", "rsa", "-traditional", "-in", dir.resolve("pkcs8.key").toString(),
                "-out", key.toString()).ok();
        assertThat(Files.readString(key)).startsWith("-----BEGIN RSA PRIVATE KEY-----");
        try (Server server = start(config("""
                  admin: "127.0.0.1:0"
                  admin-token-file: admin-token
                  admin-tls: {cert: admin.crt, key: admin.key}"""))) {
            assertThat(server.scheme()).isEqualTo("https");
            HttpClient https = HttpClient.newBuilder().sslContext(trusting(cert)).build();
            assertThat(get(https, server.uri("/api/status"), null).statusCode()).isEqualTo(401);
            assertThat(get(https, server.uri("/api/status"), "Bearer " + TOKEN).statusCode()).isEqualTo(200);
            assertThat(dir.resolve("state/admin")).doesNotExist();
        }
        // a key that is not the certificate's: refused at start rather than at every handshake
        Tools.run(60, "openssl", "genrsa", "-traditional", "-out", key.toString(), "2048").ok();
        String out = refusal(config("""
                  admin: "127.0.0.1:0"
                  admin-token-file: admin-token
                  admin-tls: {cert: admin.crt, key: admin.key}"""));
        assertThat(out.lines().filter(l -> l.startsWith("iscsi-target:")).toList()).containsExactly(
                "iscsi-target: admin-tls: the key in " + key + " does not belong to the certificate in " + cert);
    }

    @Test
    void tokenOverPlainHttpOnLoopback() throws Exception {
        tokenFile(TOKEN);
        try (Server server = start(config("""
                  admin: "127.0.0.1:0"
                  admin-token-file: admin-token"""))) {
            assertThat(server.scheme()).isEqualTo("http");
            HttpClient http = HttpClient.newHttpClient();
            assertThat(get(http, server.uri("/api/status"), null).statusCode()).isEqualTo(401);
            assertThat(get(http, server.uri("/api/status"), "Bearer " + TOKEN).statusCode()).isEqualTo(200);
        }
    }

    @Test
    void beyondLoopbackWithoutATokenRefusesToStart() throws Exception {
        String out = refusal(config("""
                  admin: "0.0.0.0:0"
                  admin-tls: self-signed"""));
        List<String> lines = out.lines().filter(l -> !l.isBlank()).toList();
        assertThat(lines).as(out).hasSize(1);
        assertThat(lines.getFirst()).matches(".*refused\\.yaml:3:10: server\\.admin: listens beyond loopback \\(0\\.0\\.0\\.0\\)"
                + ": set server\\.admin-token-file too.*");
        assertThat(dir.resolve("state/admin")).doesNotExist();
    }

    @Test
    void anUnreadableTokenFileRefusesToStartInOneLine() throws Exception {
        String out = refusal(config("""
                  admin: "0.0.0.0:0"
                  admin-token-file: no-such-token"""));
        assertThat(out).doesNotContain("Exception").doesNotContain("\tat ");
        List<String> errors = out.lines().filter(l -> l.startsWith("iscsi-target:")).toList();
        assertThat(errors).as(out).containsExactly(
                "iscsi-target: admin-token-file " + dir.resolve("no-such-token") + ": no such file");

        Files.writeString(dir.resolve("short-token"), "abc\n");
        String shortOut = refusal(config("""
                  admin: "127.0.0.1:0"
                  admin-token-file: short-token"""));
        assertThat(shortOut).contains("holds a token of 3 characters; use at least 16").doesNotContain("\tat ");
    }
}
