package org.rtarget.config;

import java.net.InetAddress;
import java.util.List;
import java.util.Objects;

/**
 * One initiator allowed to log in to a target.
 *
 * @param initiator the initiator's iSCSI name
 * @param luns      the LUNs it sees (LUN masking); empty means all
 * @param addresses source addresses it may connect from, as CIDRs or single addresses; empty means any
 */
public record AclEntry(String initiator, List<Integer> luns, List<String> addresses) {

    public AclEntry {
        Objects.requireNonNull(initiator, "initiator");
        luns = List.copyOf(luns);
        addresses = List.copyOf(addresses);
    }

    public boolean allowsLun(int lun) {
        return luns.isEmpty() || luns.contains(lun);
    }

    /** Whether a connection from this address may use the entry (the loader has checked the syntax). */
    public boolean allowsAddress(InetAddress address) {
        return addresses.isEmpty()
                || addresses.stream().anyMatch(cidr -> Cidr.parse(cidr).contains(address));
    }
}
