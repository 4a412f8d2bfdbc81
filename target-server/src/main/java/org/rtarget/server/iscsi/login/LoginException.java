package org.rtarget.server.iscsi.login;

/** A login that must end with a failure status; the message says why, for the log. */
public final class LoginException extends Exception {
    private final LoginStatus status;

    public LoginException(LoginStatus status, String message) {
        super(message, null, false, false);
        this.status = status;
    }

    public LoginStatus status() {
        return status;
    }
}
