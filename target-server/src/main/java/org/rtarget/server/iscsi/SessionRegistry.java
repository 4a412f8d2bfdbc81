package org.rtarget.server.iscsi;

import java.util.Collection;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * Every logged-in session of the server, found by TSIH or by the initiator's session identity
 * (initiator name, ISID, target name) for reinstatement. Thread-safe: logins run on many event loops.
 */
public final class SessionRegistry {
    /** What identifies a session to its initiator: a new login with the same key replaces it. */
    public record SessionKey(String initiatorName, long isid, String targetName) {
    }

    private final ConcurrentMap<SessionKey, IscsiSession> byKey = new ConcurrentHashMap<>();
    private final ConcurrentMap<Integer, IscsiSession> byTsih = new ConcurrentHashMap<>();
    private int nextTsih = 1;

    /** Registers a new session under a fresh TSIH; returns the session it replaced, or null. */
    public synchronized IscsiSession register(IscsiSession session) {
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
