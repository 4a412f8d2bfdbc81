package org.rtarget.server.admin;

import java.io.IOException;
import java.nio.charset.MalformedInputException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin endpoint's bearer token ({@code server.admin-token-file}): a request must carry
 * {@code Authorization: Bearer TOKEN}. The comparison takes the same time whatever the guess
 * (both sides are hashed first, so not even the length leaks). Holds no token when none is
 * configured: then every request passes.
 */
public final class AdminAuth {
    private static final Logger log = LoggerFactory.getLogger(AdminAuth.class);
    /** Below this many characters a token is guessable; refused rather than warned about. */
    static final int MIN_TOKEN_LENGTH = 16;
    private static final String BEARER = "bearer ";

    private final byte[] tokenHash;

    private AdminAuth(byte[] tokenHash) {
        this.tokenHash = tokenHash;
    }

    /** No token: every request is let through (allowed on loopback only). */
    public static AdminAuth none() {
        return new AdminAuth(null);
    }

    /** A token given directly (tests). */
    static AdminAuth ofToken(String token) {
        return new AdminAuth(sha256(token));
    }

    /**
     * Reads the token from {@code file}: its content without surrounding whitespace (a trailing
     * newline is usual). The message of the exception names the file and what is wrong with it,
     * never the token.
     */
    public static AdminAuth fromFile(Path file) throws IOException {
        String content;
        try {
            content = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw problem(file, "no such file");
        } catch (AccessDeniedException e) {
            throw problem(file, "permission denied");
        } catch (MalformedInputException e) {
            throw problem(file, "is not UTF-8 text");
        } catch (IOException e) {
            throw problem(file, Files.isDirectory(file) ? "is a directory" : "cannot read: " + e.getMessage());
        }
        String token = content.strip();
        if (token.isEmpty()) {
            throw problem(file, "is empty");
        }
        if (token.length() < MIN_TOKEN_LENGTH) {
            throw problem(file, "holds a token of " + token.length() + " characters; use at least "
                    + MIN_TOKEN_LENGTH + " (e.g. head -c 32 /dev/urandom | base64 > FILE)");
        }
        if (token.chars().anyMatch(c -> c <= ' ' || c == 0x7f)) {
            throw problem(file, "holds white space or control characters inside the token");
        }
        warnIfOthersCanRead(file);
        return new AdminAuth(sha256(token));
    }

    public boolean required() {
        return tokenHash != null;
    }

    /** Whether a request with this {@code Authorization} header (null when absent) may proceed. */
    public boolean allows(String authorization) {
        if (tokenHash == null) {
            return true;
        }
        byte[] given = sha256(presented(authorization));
        return MessageDigest.isEqual(tokenHash, given);
    }

    /** The token in {@code Bearer TOKEN} (scheme case-insensitive), or "" when there is none. */
    private static String presented(String authorization) {
        if (authorization == null || authorization.length() <= BEARER.length()
                || !authorization.regionMatches(true, 0, BEARER, 0, BEARER.length())) {
            return "";
        }
        return authorization.substring(BEARER.length()).strip();
    }

    private static byte[] sha256(String text) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 missing from the JDK", e);
        }
    }

    private static void warnIfOthersCanRead(Path file) {
        try {
            Set<PosixFilePermission> perms = Files.getPosixFilePermissions(file);
            if (perms.contains(PosixFilePermission.OTHERS_READ)) {
                log.warn("admin-token-file {} is readable by every user: chmod 600 it (or 640 for a group)", file);
            }
        } catch (IOException | UnsupportedOperationException e) {
            // not a POSIX file system: nothing to check
        }
    }

    private static IOException problem(Path file, String message) {
        return new IOException("admin-token-file " + file + ": " + message);
    }
}
