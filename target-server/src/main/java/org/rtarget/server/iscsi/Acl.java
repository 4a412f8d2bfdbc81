package org.rtarget.server.iscsi;

import java.net.InetAddress;
import java.util.List;
import java.util.Locale;
import org.rtarget.config.AclEntry;

/**
 * Who may log in to a target, from where, and which of its LUNs each initiator sees: the target's
 * {@code acl:} list. Without entries every initiator may log in from anywhere and sees every LUN.
 */
public final class Acl {
    private final List<AclEntry> entries;

    public Acl(List<AclEntry> entries) {
        this.entries = List.copyOf(entries);
    }

    /**
     * The entry for an initiator, or null when the list does not name it. For an empty list, an
     * entry that allows everything. iSCSI names are compared without case (RFC 3722 folds them).
     */
    public AclEntry entryFor(String initiatorName) {
        if (entries.isEmpty()) {
            return new AclEntry(initiatorName, List.of(), List.of());
        }
        String name = initiatorName.toLowerCase(Locale.ROOT);
        for (AclEntry e : entries) {
            if (e.initiator().toLowerCase(Locale.ROOT).equals(name)) {
                return e;
            }
        }
        return null;
    }

    /** Whether the entry admits a connection from {@code address}; an unknown address (null) passes no range. */
    public static boolean allowsAddress(AclEntry entry, InetAddress address) {
        return entry.addresses().isEmpty() || address != null && entry.allowsAddress(address);
    }

    /** Whether the initiator may log in from that address (what SendTargets shows it). */
    public boolean admits(String initiatorName, InetAddress address) {
        AclEntry entry = entryFor(initiatorName);
        return entry != null && allowsAddress(entry, address);
    }

    /** Whether the initiator sees LUN {@code lun} (a LUN added by a reload goes only where masking allows). */
    public boolean lunVisible(String initiatorName, int lun) {
        AclEntry entry = entryFor(initiatorName);
        return entry != null && entry.allowsLun(lun);
    }
}
