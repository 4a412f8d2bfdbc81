package org.rtarget.server.iscsi;

import java.util.Collection;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import org.rtarget.config.ServerConfig;
import org.rtarget.server.iscsi.login.LoginException;
import org.rtarget.server.iscsi.login.LoginStatus;

/**
 * Every logged-in session of the server, found by TSIH or by the initiator's session identity
 * (initiator name, ISID, target name) for reinstatement. It also holds the session limits, checked
 * and applied in one step so concurrent logins cannot overshoot them. Thread-safe: logins run on
 * many event loops.
 */
public final class SessionRegistry {
    /** What identifies a session to its initiator: a new login with the same key replaces it. */
    public record SessionKey(String initiatorName, long isid, String targetName) {
    }

    private final ConcurrentMap<SessionKey, IscsiSession> byKey = new ConcurrentHashMap<>();
    private final ConcurrentMap<Integer, IscsiSession> byTsih = new ConcurrentHashMap<>();
    private final int maxSessionsPerTarget;
    private final int maxSessionsPerInitiator;
    private int nextTsih = 1;

    /** With the default limits. */
    public SessionRegistry() {
        this(ServerConfig.DEFAULT_MAX_SESSIONS_PER_TARGET, ServerConfig.DEFAULT_MAX_SESSIONS_PER_INITIATOR);
    }

    /** With the limits of {@code max-sessions-per-target} and {@code max-sessions-per-initiator}. */
    public SessionRegistry(int maxSessionsPerTarget, int maxSessionsPerInitiator) {
        this.maxSessionsPerTarget = maxSessionsPerTarget;
        this.maxSessionsPerInitiator = maxSessionsPerInitiator;
    }

    /**
     * Registers a new session under a fresh TSIH; returns the session it replaced, or null.
     *
     * @throws LoginException with 0x0302 (out of resources) when a session limit is reached
     */
    public synchronized IscsiSession register(IscsiSession session) throws LoginException {
        checkLimits(session);
        int tsih;
        do {
            tsih = nextTsih;
            nextTsih = nextTsih == 0xFFFF ? 1 : nextTsih + 1;
        } while (byTsih.containsKey(tsih));
        session.assignTsih(tsih);
        byTsih.put(tsih, session);
        IscsiSession old = byKey.put(session.key(), session);
        if (old != null) {
            byTsih.remove(old.tsih(), old);
        }
        return old;
    }

    /**
     * RFC 7143 11.13.5 calls a target short of sessions "out of resources" (0x0302), a status class
     * the initiator may retry later; 0x0206 is about connections within one session.
     */
    private void checkLimits(IscsiSession session) throws LoginException {
        if (session.discovery()) {
            return; // discovery sessions see no LUNs and are short-lived
        }
        int ofTarget = 0;
        int ofInitiator = 0;
        for (IscsiSession other : byTsih.values()) {
            if (other.discovery() || other.key().equals(session.key())) {
                continue; // a session this login reinstates goes away
            }
            if (other.targetName().equals(session.targetName())) {
                ofTarget++;
            }
            if (other.initiatorName().equalsIgnoreCase(session.initiatorName())) {
                ofInitiator++;
            }
        }
        if (ofTarget >= maxSessionsPerTarget) {
            throw new LoginException(LoginStatus.OUT_OF_RESOURCES, "target " + session.targetName() + " has "
                    + ofTarget + " sessions, its limit (server.max-sessions-per-target)");
        }
        if (ofInitiator >= maxSessionsPerInitiator) {
            throw new LoginException(LoginStatus.OUT_OF_RESOURCES, "initiator " + session.initiatorName()
                    + " has " + ofInitiator + " sessions, its limit (server.max-sessions-per-initiator)");
        }
    }

    public synchronized void unregister(IscsiSession session) {
        byKey.remove(session.key(), session);
        byTsih.remove(session.tsih(), session);
    }

    public IscsiSession byTsih(int tsih) {
        return byTsih.get(tsih);
    }

    public Collection<IscsiSession> all() {
        return byTsih.values();
    }
}
