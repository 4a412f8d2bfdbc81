package org.rtarget.server.iscsi;

import org.rtarget.server.iscsi.login.LoginException;
import org.rtarget.server.iscsi.login.TextKeys;

/**
 * The security stage of one login: it reads the initiator's security keys and writes its answers.
 * Each login gets its own instance.
 */
interface Authenticator {

    /**
     * Processes the security keys of one login request into {@code response}. Returns true once the
     * initiator is authenticated and may leave the security stage.
     *
     * @throws LoginException to end the login with an authentication failure
     */
    boolean step(TextKeys request, TextKeys response) throws LoginException;

    /** Whether the initiator must pass the security stage before anything else. */
    boolean required();

    /** How the initiator was authenticated, for the log: "None", "CHAP SHA-256 mutual". */
    String method();
}
