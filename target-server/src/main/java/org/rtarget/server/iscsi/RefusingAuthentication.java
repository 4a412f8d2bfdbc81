package org.rtarget.server.iscsi;

import org.rtarget.server.iscsi.login.LoginException;
import org.rtarget.server.iscsi.login.LoginStatus;
import org.rtarget.server.iscsi.login.TextKeys;

/** For a target configured with CHAP while CHAP is not implemented: nobody gets in, and the log says why. */
final class RefusingAuthentication implements Authenticator {
    private final String target;

    RefusingAuthentication(String target) {
        this.target = target;
    }

    @Override
    public boolean step(TextKeys request, TextKeys response) throws LoginException {
        throw new LoginException(LoginStatus.AUTHENTICATION_FAILURE,
                "target " + target + " is configured with CHAP, which this version does not implement yet");
    }

    @Override
    public boolean required() {
        return true;
    }
}
