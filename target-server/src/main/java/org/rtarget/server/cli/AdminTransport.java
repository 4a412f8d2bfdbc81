package org.rtarget.server.cli;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;
import org.rtarget.config.HostPort;
import org.rtarget.config.ServerConfig;
import org.rtarget.server.admin.AdminTls;

/**
 * How the command line reaches a running server's admin endpoint: http or https, which
 * certificates it trusts, and the bearer token it sends. Built from the options a command got
 * and, when it has one, the server's configuration:
 *
 * <ul>
 * <li>https when {@code --admin https://HOST:PORT}, {@code --cacert} or the configuration's
 *     {@code admin-tls} says so;
 * <li>trusted: the JDK's CAs, plus {@code --cacert FILE} (PEM), else the configuration's certificate:
 *     {@code <state-dir>/admin/admin.crt} for {@code self-signed}, {@code admin-tls.cert} otherwise;
 * <li>the token from {@code --token-file FILE}, else the configuration's {@code admin-token-file};
 * <li>a wildcard address (0.0.0.0, ::) is reached on loopback, which the self-signed certificate names.
 * </ul>
 *
 * Every problem is a {@link SetupException} whose message is one line for the operator.
 */
public final class AdminTransport {
    private final HostPort address;
    private final boolean https;
    private final String token;
    private final HttpClient http;

    private AdminTransport(HostPort address, boolean https, String token, HttpClient http) {
        this.address = address;
        this.https = https;
        this.token = token;
        this.http = http;
    }

    /** A problem setting up the transport (unreadable token or certificate file). */
    public static final class SetupException extends RuntimeException {
        SetupException(String message) {
            super(message, null, false, false);
        }
    }

    /** Plain HTTP without a token: what the CLI did before the endpoint had security. */
    public static AdminTransport plain(HostPort address) {
        return builder().address(address).build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Collects the options; {@link #build()} applies the rules in the class comment. */
    public static final class Builder {
        private String admin;
        private HostPort address;
        private ServerConfig server;
        private Path tokenFile;
        private Path caCert;

        /** {@code --admin}: HOST:PORT, or https://HOST:PORT / http://HOST:PORT. Wins over the configuration's. */
        public Builder admin(String text) {
            this.admin = text;
            return this;
        }

        public Builder address(HostPort address) {
            this.address = address;
            return this;
        }

        /** The server's configuration ({@code --config}): its admin address, token file and TLS. */
        public Builder server(ServerConfig server) {
            this.server = server;
            return this;
        }

        /** {@code --token-file}: a file holding the bearer token. */
        public Builder tokenFile(Path file) {
            this.tokenFile = file;
            return this;
        }

        /** {@code --cacert}: a PEM file of certificates to trust (the server's own, or its CA); implies https. */
        public Builder caCert(Path file) {
            this.caCert = file;
            return this;
        }

        public AdminTransport build() {
            Boolean scheme = null;
            HostPort where = address;
            if (admin != null) {
                String text = admin;
                if (text.startsWith("https://")) {
                    scheme = true;
                    text = text.substring("https://".length());
                } else if (text.startsWith("http://")) {
                    scheme = false;
                    text = text.substring("http://".length());
                }
                if (text.endsWith("/")) {
                    text = text.substring(0, text.length() - 1);
                }
                where = HostPort.parse(text, HostPort.DEFAULT_ADMIN_PORT);
            }
            if (where == null) {
                where = server != null ? server.admin() : ServerConfig.DEFAULT_ADMIN;
            }
            boolean https = scheme != null ? scheme : caCert != null || (server != null && server.adminTls() != null);
            Path tokenSource = tokenFile != null ? tokenFile : server == null ? null : server.adminTokenFile();
            String token = tokenSource == null ? null : readToken(tokenSource);
            HttpClient.Builder http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5));
            if (https) {
                http.sslContext(sslContext(trusted()));
            }
            return new AdminTransport(reachable(where), https, token, http.build());
        }

        /** The certificates to trust besides the JDK's CAs; empty when there are none to add. */
        private List<Path> trusted() {
            List<Path> files = new ArrayList<>();
            if (caCert != null) {
                files.add(caCert);
            } else if (server != null && server.adminTls() != null) {
                Path cert = server.adminTls().selfSigned()
                        ? server.stateDir().resolve(AdminTls.DIR).resolve(AdminTls.CERT_FILE)
                        : server.adminTls().cert();
                if (Files.isReadable(cert)) {
                    files.add(cert);
                }
            }
            return files;
        }
    }

    /** Where the endpoint is reached (wildcards replaced by loopback). */
    public HostPort address() {
        return address;
    }

    public boolean https() {
        return https;
    }

    /** Whether a token is sent. */
    public boolean hasToken() {
        return token != null;
    }

    public HttpClient http() {
        return http;
    }

    public URI uri(String path) {
        String host = address.isIpv6() ? "[" + address.host() + "]" : address.host();
        return URI.create((https ? "https://" : "http://") + host + ":" + address.port() + path);
    }

    /** A request for {@code path}, with the bearer token when there is one. */
    public HttpRequest.Builder request(String path) {
        return authorize(HttpRequest.newBuilder(uri(path)));
    }

    /** Adds the {@code Authorization} header to a request built elsewhere. */
    public HttpRequest.Builder authorize(HttpRequest.Builder request) {
        return token == null ? request : request.header("Authorization", "Bearer " + token);
    }

    private static HostPort reachable(HostPort address) {
        return switch (address.host()) {
            case "0.0.0.0" -> new HostPort("127.0.0.1", address.port());
            case "::" -> new HostPort("::1", address.port());
            default -> address;
        };
    }

    private static String readToken(Path file) {
        String content;
        try {
            content = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new SetupException("token file " + file + ": no such file");
        } catch (AccessDeniedException e) {
            throw new SetupException("token file " + file + ": permission denied (run as the server's user or root)");
        } catch (IOException e) {
            throw new SetupException("token file " + file + ": cannot read: " + e.getMessage());
        }
        String token = content.strip();
        if (token.isEmpty()) {
            throw new SetupException("token file " + file + ": is empty");
        }
        return token;
    }

    /** TLS that trusts the JDK's CAs and the certificates in {@code pemFiles}. */
    static SSLContext sslContext(List<Path> pemFiles) {
        try {
            List<X509TrustManager> managers = new ArrayList<>();
            if (!pemFiles.isEmpty()) {
                KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
                store.load(null, null);
                int n = 0;
                for (Path file : pemFiles) {
                    for (Certificate cert : readCertificates(file)) {
                        store.setCertificateEntry("trusted-" + n++, cert);
                    }
                }
                managers.add(trustManager(store));
            }
            managers.add(trustManager(null));
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, new TrustManager[] {new EitherTrustManager(managers)}, null);
            return context;
        } catch (GeneralSecurityException | IOException e) {
            throw new SetupException("cannot set up TLS for the admin endpoint: " + e.getMessage());
        }
    }

    private static Collection<? extends Certificate> readCertificates(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            Collection<? extends Certificate> certs = CertificateFactory.getInstance("X.509").generateCertificates(in);
            if (certs.isEmpty()) {
                throw new SetupException("certificate file " + file + ": holds no certificate");
            }
            return certs;
        } catch (NoSuchFileException e) {
            throw new SetupException("certificate file " + file + ": no such file");
        } catch (AccessDeniedException e) {
            throw new SetupException("certificate file " + file + ": permission denied");
        } catch (IOException | CertificateException e) {
            throw new SetupException("certificate file " + file + ": not PEM certificates: " + e.getMessage());
        }
    }

    private static X509TrustManager trustManager(KeyStore store) throws GeneralSecurityException {
        TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        factory.init(store);
        for (TrustManager tm : factory.getTrustManagers()) {
            if (tm instanceof X509TrustManager x509) {
                return x509;
            }
        }
        throw new GeneralSecurityException("no X.509 trust manager");
    }

    /** Trusts a server chain that any of its managers trusts. */
    private record EitherTrustManager(List<X509TrustManager> managers) implements X509TrustManager {
        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            CertificateException first = null;
            for (X509TrustManager m : managers) {
                try {
                    m.checkServerTrusted(chain, authType);
                    return;
                } catch (CertificateException e) {
                    first = first == null ? e : first;
                }
            }
            throw first;
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            throw new CertificateException("a client-side trust manager only");
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return managers.stream().flatMap(m -> java.util.Arrays.stream(m.getAcceptedIssuers()))
                    .toArray(X509Certificate[]::new);
        }
    }
}
