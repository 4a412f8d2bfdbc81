package org.rtarget.config;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * One iSCSI target.
 *
 * @param iqn        the target name (iqn., eui. or naa. form)
 * @param alias      TargetAlias sent at login; null when not given
 * @param queueDepth CmdSN window per session ({@code queue-depth}), 1..4096
 * @param auth       CHAP for normal sessions; null means no CHAP
 * @param acl        who may log in; empty means every initiator
 * @param luns       the logical units, in file order
 */
public record TargetConfig(String iqn, String alias, int queueDepth, AuthConfig auth,
                           List<AclEntry> acl, List<LunConfig> luns) {

    public static final int DEFAULT_QUEUE_DEPTH = 128;
    public static final int MAX_QUEUE_DEPTH = 4096;

    public TargetConfig {
        Objects.requireNonNull(iqn, "iqn");
        acl = List.copyOf(acl);
        luns = List.copyOf(luns);
    }

    /** The LUN with this number, if the target has one. */
    public Optional<LunConfig> lun(int number) {
        return luns.stream().filter(l -> l.lun() == number).findFirst();
    }
}
