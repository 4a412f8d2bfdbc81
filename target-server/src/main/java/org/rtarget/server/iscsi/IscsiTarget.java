package org.rtarget.server.iscsi;

import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.rtarget.config.AclEntry;
import org.rtarget.config.AuthConfig;
import org.rtarget.server.scsi.LogicalUnit;

/**
 * An iSCSI target node: its name, its LUN table and the settings sessions take from it. The LUN
 * table is an immutable map swapped as a whole, so sessions read it without locks.
 */
public final class IscsiTarget {
    private final String iqn;
    // Settings a reload may change: new sessions take the new values.
    private volatile String alias;
    private volatile int queueDepth;
    private volatile AuthConfig auth;
    private volatile Acl acl;
    private volatile Map<Integer, LogicalUnit> luns;

    public IscsiTarget(String iqn, String alias, int queueDepth, AuthConfig auth, List<AclEntry> acl,
                       Map<Integer, LogicalUnit> luns) {
        this.iqn = iqn;
        this.alias = alias;
        this.queueDepth = queueDepth;
        this.auth = auth;
        this.acl = new Acl(acl);
        this.luns = Collections.unmodifiableMap(new TreeMap<>(luns));
    }

    /** A target open to every initiator (no ACL). */
    public IscsiTarget(String iqn, String alias, int queueDepth, AuthConfig auth, Map<Integer, LogicalUnit> luns) {
        this(iqn, alias, queueDepth, auth, List.of(), luns);
    }

    public String iqn() {
        return iqn;
    }

    /** The TargetAlias to declare, or null. */
    public String alias() {
        return alias;
    }

    /** The CmdSN window per session: how many commands an initiator may have outstanding. */
    public int queueDepth() {
        return queueDepth;
    }

    /** CHAP settings, or null for no authentication. */
    public AuthConfig auth() {
        return auth;
    }

    /** Who may log in and which LUNs each initiator sees. */
    public Acl acl() {
        return acl;
    }

    /** LUN number to logical unit, ascending. */
    public Map<Integer, LogicalUnit> luns() {
        return luns;
    }

    /** A reload changed the target's settings: logins from now on use them. */
    public void settings(String newAlias, int newQueueDepth, AuthConfig newAuth, List<AclEntry> newAcl) {
        this.alias = newAlias;
        this.queueDepth = newQueueDepth;
        this.auth = newAuth;
        this.acl = new Acl(newAcl);
    }

    /** Replaces the LUN table (live reload). */
    public void luns(Map<Integer, LogicalUnit> newLuns) {
        this.luns = Collections.unmodifiableMap(new TreeMap<>(newLuns));
    }
}
