package org.rtarget.server.iscsi;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.stream.Collectors;
import org.rtarget.config.AuthConfig;
import org.rtarget.config.ChapCredentials;
import org.rtarget.config.ChapDigest;
import org.rtarget.config.ConfigException;
import org.rtarget.server.iscsi.login.BinaryValue;
import org.rtarget.server.iscsi.login.LoginException;
import org.rtarget.server.iscsi.login.LoginStatus;
import org.rtarget.server.iscsi.login.TextKeys;

/**
 * CHAP for one login (RFC 7143 12.1.3, RFC 1994), in three round trips: AuthMethod=CHAP; CHAP_A
 * answered with the target's CHAP_I and CHAP_C; the initiator's CHAP_N and CHAP_R checked against
 * the configured user and secret. For mutual CHAP the initiator adds its own CHAP_I and CHAP_C to
 * the last step, and the target answers with its CHAP_N and CHAP_R.
 *
 * <p>Failure messages name the user and the target, never a secret or a response.
 */
final class ChapAuthenticator implements Authenticator {
    /** RFC 7143 12.1.3: no CHAP binary value is longer than 1024 bytes. */
    private static final int MAX_BINARY_LENGTH = 1024;
    private static final SecureRandom RANDOM = new SecureRandom();

    /** The target's CHAP_I and CHAP_C. */
    record Challenge(int identifier, byte[] value) {
    }

    /** Where challenges come from: fresh random ones, or recorded ones when a test replays a capture. */
    interface Challenges {
        Challenge next(ChapAlgorithm algorithm);
    }

    /** As long as the digest, so a challenge carries as much randomness as the response can keep. */
    static final Challenges SECURE_RANDOM = algorithm -> {
        byte[] value = new byte[algorithm.length()];
        RANDOM.nextBytes(value);
        return new Challenge(RANDOM.nextInt(256), value);
    };

    private enum Step { AUTH_METHOD, ALGORITHM, RESPONSE, DONE }

    private final String realm;
    private final AuthConfig config;
    private final Challenges challenges;
    private Step step = Step.AUTH_METHOD;
    private ChapAlgorithm algorithm;
    private int identifier;
    private byte[] challenge;
    private boolean mutual;

    /** @param realm what the initiator logs in to, for messages: "target IQN" or "discovery" */
    ChapAuthenticator(String realm, AuthConfig config) {
        this(realm, config, SECURE_RANDOM);
    }

    ChapAuthenticator(String realm, AuthConfig config, Challenges challenges) {
        this.realm = realm;
        this.config = config;
        this.challenges = challenges;
    }

    @Override
    public boolean step(TextKeys request, TextKeys response) throws LoginException {
        if (step == Step.AUTH_METHOD) {
            chooseMethod(request.get("AuthMethod"), response);
            if (!request.contains("CHAP_A")) {
                return false;
            }
        }
        if (step == Step.ALGORITHM) {
            challenge(request.get("CHAP_A"), response);
            return false;
        }
        if (step == Step.RESPONSE) {
            verify(request, response);
        }
        return true;
    }

    @Override
    public boolean required() {
        return true;
    }

    @Override
    public String method() {
        return algorithm == null ? "CHAP" : "CHAP " + algorithm + (mutual ? " mutual" : "");
    }

    private void chooseMethod(String offered, TextKeys response) throws LoginException {
        if (offered != null) {
            for (String method : offered.split(",", -1)) {
                if (method.equals("CHAP")) {
                    response.add("AuthMethod", "CHAP");
                    step = Step.ALGORITHM;
                    return;
                }
            }
        }
        throw failure(realm + " requires CHAP; the initiator offered "
                + (offered == null ? "no AuthMethod" : "AuthMethod=" + printable(offered)));
    }

    /** Picks the algorithm and sends a fresh challenge. */
    private void challenge(String offer, TextKeys response) throws LoginException {
        if (offer == null) {
            throw failure("expected CHAP_A after AuthMethod=CHAP (" + realm + ")");
        }
        algorithm = ChapAlgorithm.strongestOf(offer, config.algorithms());
        if (algorithm == null) {
            throw failure("the initiator offered CHAP_A=" + printable(offer) + "; " + realm + " allows "
                    + config.algorithms().stream().map(ChapDigest::yamlName).collect(Collectors.joining(", ")));
        }
        Challenge next = challenges.next(algorithm);
        identifier = next.identifier();
        challenge = next.value();
        response.add("CHAP_A", Integer.toString(algorithm.code()));
        response.add("CHAP_I", Integer.toString(identifier));
        response.add("CHAP_C", BinaryValue.encodeHex(challenge));
        step = Step.RESPONSE;
    }

    /** Checks the initiator's answer; for mutual CHAP, answers the initiator's challenge. */
    private void verify(TextKeys request, TextKeys response) throws LoginException {
        String name = request.get("CHAP_N");
        String answer = request.get("CHAP_R");
        if (name == null || answer == null) {
            throw failure("expected CHAP_N and CHAP_R after the challenge (" + realm + ")");
        }
        String user = "user " + printable(name) + " at " + realm;
        String peerIdentifier = request.get("CHAP_I");
        String peerChallenge = request.get("CHAP_C");
        mutual = peerIdentifier != null || peerChallenge != null;
        if (mutual && config.mutual() == null) {
            throw failure(user + ": the initiator asks for mutual CHAP, which is not configured");
        }
        ChapCredentials expected = config.chap();
        // The user name is no secret, and the response is checked anyway: no need to hide which failed.
        if (!name.equals(expected.user())) {
            throw failure(user + ": unknown CHAP user (expected " + expected.user() + ")");
        }
        byte[] received = binary(answer, "CHAP_R", user);
        byte[] wanted = algorithm.response(identifier, secret(expected, user), challenge);
        if (!MessageDigest.isEqual(received, wanted)) {
            throw failure(user + ": wrong CHAP_R (" + algorithm + "): the secrets differ");
        }
        if (mutual) {
            answerChallenge(peerIdentifier, peerChallenge, user, response);
        }
        step = Step.DONE;
    }

    private void answerChallenge(String peerIdentifier, String peerChallenge, String user, TextKeys response)
            throws LoginException {
        if (peerIdentifier == null || peerChallenge == null) {
            throw failure(user + ": mutual CHAP needs both CHAP_I and CHAP_C");
        }
        int id = identifier(peerIdentifier, user);
        byte[] theirs = binary(peerChallenge, "CHAP_C", user);
        // RFC 7143 12.1.3: a challenge must never be reflected to its sender.
        if (MessageDigest.isEqual(theirs, challenge)) {
            throw failure(user + ": the initiator's CHAP_C repeats the target's challenge (reflection)");
        }
        ChapCredentials ours = config.mutual();
        response.add("CHAP_N", ours.user());
        response.add("CHAP_R", BinaryValue.encodeHex(algorithm.response(id, secret(ours, user), theirs)));
    }

    private byte[] secret(ChapCredentials credentials, String user) throws LoginException {
        try {
            return credentials.secret().resolve().getBytes(StandardCharsets.UTF_8);
        } catch (ConfigException e) {
            // The message says where the secret should come from and why it cannot: never the secret.
            throw new LoginException(LoginStatus.TARGET_ERROR, user + ": cannot read the CHAP secret of "
                    + credentials.user() + ": " + e.getMessage());
        }
    }

    private static byte[] binary(String text, String key, String user) throws LoginException {
        byte[] value;
        try {
            value = BinaryValue.decode(text);
        } catch (IllegalArgumentException e) {
            throw failure(user + ": " + key + " is " + e.getMessage());
        }
        if (value.length > MAX_BINARY_LENGTH) {
            throw failure(user + ": " + key + " is longer than " + MAX_BINARY_LENGTH + " bytes");
        }
        return value;
    }

    /** CHAP_I is a number 0..255, in decimal or hex. */
    private static int identifier(String text, String user) throws LoginException {
        try {
            int value = text.startsWith("0x") || text.startsWith("0X") ? Integer.parseInt(text.substring(2), 16)
                    : Integer.parseInt(text);
            if (value >= 0 && value <= 255) {
                return value;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw failure(user + ": CHAP_I=" + printable(text) + " is not a number 0..255");
    }

    private static LoginException failure(String message) {
        return new LoginException(LoginStatus.AUTHENTICATION_FAILURE, message);
    }

    /** Text from the initiator, safe for a log line: no control characters, bounded length. */
    private static String printable(String text) {
        String shown = text.length() > 64 ? text.substring(0, 64) + "..." : text;
        return shown.codePoints().map(c -> Character.isISOControl(c) ? '?' : c)
                .collect(StringBuilder::new, StringBuilder::appendCodePoint, StringBuilder::append).toString();
    }
}
