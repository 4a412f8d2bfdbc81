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
    private final String alias;
    private final int queueDepth;
    private final AuthConfig auth;
    private final Acl acl;
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

    /** Replaces the LUN table (live reload). */
    public void luns(Map<Integer, LogicalUnit> newLuns) {
        this.luns = Collections.unmodifiableMap(new TreeMap<>(newLuns));
    }
}
