package org.rtarget.server.iscsi;

import org.rtarget.server.iscsi.login.LoginException;
import org.rtarget.server.iscsi.login.LoginStatus;
import org.rtarget.server.iscsi.login.TextKeys;

/** AuthMethod=None: any initiator that offers None is let in. */
final class NoAuthentication implements Authenticator {

    @Override
    public boolean step(TextKeys request, TextKeys response) throws LoginException {
        String offered = request.get("AuthMethod");
        if (offered == null) {
            return true;
        }
        for (String method : offered.split(",")) {
            if (method.equals("None")) {
                response.add("AuthMethod", "None");
                return true;
            }
        }
        response.add("AuthMethod", "Reject");
        throw new LoginException(LoginStatus.AUTHENTICATION_FAILURE,
                "initiator offered AuthMethod=" + offered + " but this target uses no authentication");
    }

    @Override
    public boolean required() {
        return false;
    }

    @Override
    public String method() {
        return "None";
    }
}
