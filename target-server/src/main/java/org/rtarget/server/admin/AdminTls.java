package org.rtarget.server.admin;

import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import javax.net.ssl.SSLException;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.rtarget.config.AdminTlsConfig;
import org.rtarget.config.HostPort;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * TLS for the admin endpoint ({@code server.admin-tls}). With PEM files, Netty reads them (PKCS#8
 * keys, and PKCS#1 / SEC1 ones through Bouncy Castle). With {@code self-signed}, the first start
 * makes an ECDSA P-256 key and a certificate for this host (Bouncy Castle builds it, the JDK signs
 * it) and keeps them as {@code <state-dir>/admin/admin.key} (mode 600) and {@code admin.crt}; later
 * starts reuse them, so clients can pin or trust that one certificate.
 */
public final class AdminTls {
    private static final Logger log = LoggerFactory.getLogger(AdminTls.class);
    /** Under the state dir. */
    public static final String DIR = "admin";
    public static final String CERT_FILE = "admin.crt";
    public static final String KEY_FILE = "admin.key";
    static final Duration VALIDITY = Duration.ofDays(3650);

    private AdminTls() {
    }

    /** A server context for {@code tls}; {@code bind} and {@code stateDir} matter for self-signed only. */
    public static SslContext serverContext(AdminTlsConfig tls, HostPort bind, Path stateDir) throws IOException {
        Path cert;
        Path key;
        if (tls.selfSigned()) {
            Path dir = stateDir.resolve(DIR);
            cert = dir.resolve(CERT_FILE);
            key = dir.resolve(KEY_FILE);
            ensureSelfSigned(cert, key, bind);
        } else {
            cert = tls.cert();
            key = tls.key();
            requireReadable(cert, "cert");
            requireReadable(key, "key");
            checkPair(cert, key);
        }
        try {
            SslContext context = SslContextBuilder.forServer(cert.toFile(), key.toFile())
                    .sslProvider(SslProvider.JDK)
                    .protocols("TLSv1.3", "TLSv1.2")
                    .clientAuth(ClientAuth.NONE)
                    .build();
            log.info("admin API TLS certificate {} (SHA-256 fingerprint {})", cert, fingerprint(cert));
            return context;
        } catch (SSLException | IllegalArgumentException e) {
            throw new IOException("admin-tls: cannot use " + cert + " and " + key + ": " + rootMessage(e), e);
        }
    }

    /** The certificate's SHA-256 fingerprint as AA:BB:..., what {@code openssl x509 -fingerprint -sha256} prints. */
    public static String fingerprint(Path pemCertificate) throws IOException {
        try (InputStream in = Files.newInputStream(pemCertificate)) {
            X509Certificate cert = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(cert.getEncoded());
            return HexFormat.ofDelimiter(":").withUpperCase().formatHex(digest);
        } catch (GeneralSecurityException e) {
            throw new IOException("admin-tls: " + pemCertificate + " is not a PEM certificate: " + rootMessage(e), e);
        }
    }

    /**
     * Fails unless {@code key} is the private key of the first certificate in {@code cert}: TLS
     * would otherwise accept the files and fail every handshake later. A test signature decides.
     */
    static void checkPair(Path cert, Path key) throws IOException {
        X509Certificate certificate;
        try (InputStream in = Files.newInputStream(cert)) {
            certificate = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        } catch (GeneralSecurityException e) {
            throw new IOException("admin-tls.cert " + cert + ": not a PEM certificate: " + rootMessage(e), e);
        }
        PrivateKey privateKey = readPrivateKey(key);
        String algorithm = switch (privateKey.getAlgorithm()) {
            case "RSA" -> "SHA256withRSA";
            case "EC", "ECDSA" -> "SHA256withECDSA";
            case "Ed25519", "EdDSA" -> "Ed25519";
            case "Ed448" -> "Ed448";
            default -> null;
        };
        if (algorithm == null) {
            return; // an unusual key type: left to the TLS handshake
        }
        try {
            byte[] probe = "rtarget admin-tls key check".getBytes(StandardCharsets.US_ASCII);
            Signature signer = Signature.getInstance(algorithm);
            signer.initSign(privateKey);
            signer.update(probe);
            byte[] signature = signer.sign();
            Signature verifier = Signature.getInstance(algorithm);
            verifier.initVerify(certificate.getPublicKey());
            verifier.update(probe);
            if (!verifier.verify(signature)) {
                throw new GeneralSecurityException("mismatch");
            }
        } catch (GeneralSecurityException e) {
            throw new IOException("admin-tls: the key in " + key + " does not belong to the certificate in " + cert);
        }
    }

    /** A PEM private key: PKCS#8, PKCS#1 or SEC1 (EC PARAMETERS blocks before it are skipped). */
    private static PrivateKey readPrivateKey(Path key) throws IOException {
        try (PEMParser parser = new PEMParser(Files.newBufferedReader(key, StandardCharsets.US_ASCII))) {
            JcaPEMKeyConverter converter = new JcaPEMKeyConverter();
            for (Object o = parser.readObject(); o != null; o = parser.readObject()) {
                switch (o) {
                    case PEMKeyPair pair -> {
                        return converter.getPrivateKey(pair.getPrivateKeyInfo());
                    }
                    case PrivateKeyInfo info -> {
                        return converter.getPrivateKey(info);
                    }
                    case PEMEncryptedKeyPair _, PKCS8EncryptedPrivateKeyInfo _ ->
                            throw new IOException("admin-tls.key " + key + ": is encrypted; give it without a passphrase "
                                    + "(readable by the server's user only)");
                    default -> {
                        // EC PARAMETERS and the like: read on
                    }
                }
            }
        } catch (IOException e) {
            if (e.getMessage() != null && e.getMessage().startsWith("admin-tls")) {
                throw e;
            }
            throw new IOException("admin-tls.key " + key + ": not a PEM private key: " + rootMessage(e), e);
        }
        throw new IOException("admin-tls.key " + key + ": holds no PEM private key");
    }

    /** Makes the key and certificate unless both are there already. */
    static void ensureSelfSigned(Path cert, Path key, HostPort bind) throws IOException {
        if (Files.isRegularFile(cert) && Files.isRegularFile(key)) {
            return;
        }
        Files.createDirectories(cert.getParent());
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
            generator.initialize(new ECGenParameterSpec("secp256r1"), new SecureRandom());
            KeyPair pair = generator.generateKeyPair();
            X509Certificate certificate = selfSigned(pair, bind, Instant.now());
            // the key first, so that a crash in between leaves no certificate without its key
            writeAtomically(key, pem("PRIVATE KEY", pair.getPrivate().getEncoded()), true);
            writeAtomically(cert, pem("CERTIFICATE", certificate.getEncoded()), false);
            log.info("admin-tls: made a self-signed certificate for {} in {}", subjectNames(bind), cert.getParent());
        } catch (GeneralSecurityException | OperatorCreationException e) {
            throw new IOException("admin-tls: cannot make a self-signed certificate: " + rootMessage(e), e);
        }
    }

    static X509Certificate selfSigned(KeyPair pair, HostPort bind, Instant now)
            throws GeneralSecurityException, OperatorCreationException, IOException {
        X500Name subject = new X500Name("CN=rtarget admin API");
        BigInteger serial = new BigInteger(127, new SecureRandom()).add(BigInteger.ONE);
        X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(subject, serial,
                Date.from(now.minus(Duration.ofHours(1))), Date.from(now.plus(VALIDITY)), subject, pair.getPublic());
        JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
        builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
        builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
        builder.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth));
        builder.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(pair.getPublic()));
        builder.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(
                subjectNames(bind).stream().map(AdminTls::generalName).toArray(GeneralName[]::new)));
        // Signed by the JDK's own provider: Bouncy Castle only assembles the certificate.
        var signer = new JcaContentSignerBuilder("SHA256withECDSA").build(pair.getPrivate());
        return new JcaX509CertificateConverter().getCertificate(builder.build(signer));
    }

    /** localhost, the loopback addresses, the address bound (unless a wildcard) and this host's name. */
    static List<String> subjectNames(HostPort bind) {
        Set<String> names = new LinkedHashSet<>(List.of("localhost", "127.0.0.1", "::1"));
        String host = bind.host();
        if (!host.equals("0.0.0.0") && !host.equals("::") && host.indexOf('%') < 0) {
            names.add(host);
        }
        try {
            String hostName = InetAddress.getLocalHost().getHostName();
            if (!hostName.isEmpty()) {
                names.add(hostName);
            }
        } catch (IOException e) {
            // no name for this host: the loopback names remain
        }
        return new ArrayList<>(names);
    }

    private static GeneralName generalName(String name) {
        boolean ip = name.indexOf(':') >= 0 || name.chars().allMatch(c -> c == '.' || (c >= '0' && c <= '9'));
        return new GeneralName(ip ? GeneralName.iPAddress : GeneralName.dNSName, name);
    }

    static String pem(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n"
                + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
                + "\n-----END " + type + "-----\n";
    }

    private static void writeAtomically(Path file, String text, boolean secret) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.deleteIfExists(tmp);
        if (secret) {
            try {
                Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            } catch (UnsupportedOperationException e) {
                Files.createFile(tmp);
            }
        }
        Files.writeString(tmp, text, StandardCharsets.US_ASCII);
        try {
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static void requireReadable(Path file, String key) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IOException("admin-tls." + key + " " + file + ": no such file");
        }
        if (!Files.isReadable(file)) {
            throw new IOException("admin-tls." + key + " " + file + ": permission denied");
        }
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t.getMessage() == null ? t.toString() : t.getMessage();
    }
}
