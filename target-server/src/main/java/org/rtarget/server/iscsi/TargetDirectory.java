package org.rtarget.server.iscsi;

import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.rtarget.config.AuthConfig;
import org.rtarget.config.HostPort;

/**
 * Every target this server exports and the portals it listens on: what logins look targets up in
 * and what SendTargets lists. Swapped as a whole on reload.
 */
public final class TargetDirectory {
    /** All portals form one portal group. */
    public static final int PORTAL_GROUP_TAG = 1;

    private volatile Map<String, IscsiTarget> targets;
    private volatile List<HostPort> portals;
    private final AuthConfig discoveryAuth;

    public TargetDirectory(Collection<IscsiTarget> targets, List<HostPort> portals, AuthConfig discoveryAuth) {
        this.portals = List.copyOf(portals);
        this.discoveryAuth = discoveryAuth;
        replace(targets);
    }

    public IscsiTarget find(String iqn) {
        return targets.get(iqn);
    }

    public Collection<IscsiTarget> all() {
        return targets.values();
    }

    /** The portals SendTargets reports. */
    public List<HostPort> portals() {
        return portals;
    }

    /** Sets the portals as actually bound (a configured port 0 becomes the port the OS chose). */
    public void portals(List<HostPort> bound) {
        this.portals = List.copyOf(bound);
    }

    /** CHAP for discovery sessions, or null. */
    public AuthConfig discoveryAuth() {
        return discoveryAuth;
    }

    public void replace(Collection<IscsiTarget> newTargets) {
        Map<String, IscsiTarget> map = new LinkedHashMap<>();
        for (IscsiTarget t : newTargets) {
            map.put(t.iqn(), t);
        }
        this.targets = Collections.unmodifiableMap(map);
    }
}
