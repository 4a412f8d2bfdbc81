package org.rtarget.server.iscsi;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.IntPredicate;
import org.rtarget.server.iscsi.login.SessionParams;
import org.rtarget.server.scsi.ItNexus;
import org.rtarget.server.scsi.ItlNexus;
import org.rtarget.server.scsi.LogicalUnit;
import org.rtarget.server.scsi.SenseCode;

/**
 * A logged-in iSCSI session (one connection: MaxConnections=1). It is the I_T nexus of the SCSI
 * core and keeps the command numbering (CmdSN window) and the LUNs its initiator sees. Apart from
 * registration and closing, it is used only on its connection's event loop.
 */
public final class IscsiSession implements ItNexus {
    private final SessionRegistry.SessionKey key;
    private final String initiatorAlias;
    private final IscsiTarget target;
    private final SessionParams params;
    private final IscsiConnection connection;
    private int tsih;

    // Command numbering (RFC 7143 4.2.2.1), serial arithmetic on 32 bits.
    private int expCmdSn;
    private int maxCmdSn;
    private int outstanding;
    private final int queueDepth;

    private final Map<Integer, ItlNexus> nexuses = new TreeMap<>();
    private final Map<Integer, ItlNexus> missing = new HashMap<>();
    private int[] reportedLuns = new int[0];

    IscsiSession(SessionRegistry.SessionKey key, String initiatorAlias, IscsiTarget target, SessionParams params,
                 IscsiConnection connection, int firstCmdSn) {
        this.key = key;
        this.initiatorAlias = initiatorAlias;
        this.target = target;
        this.params = params;
        this.connection = connection;
        this.expCmdSn = firstCmdSn;
        // Fixed at login: a reload that changes the target's queue-depth applies to new sessions.
        this.queueDepth = target == null ? DISCOVERY_WINDOW : target.queueDepth();
        this.maxCmdSn = firstCmdSn - 1 + queueDepth();
    }

    SessionRegistry.SessionKey key() {
        return key;
    }

    void assignTsih(int tsih) {
        this.tsih = tsih;
    }

    public int tsih() {
        return tsih;
    }

    public long isid() {
        return key.isid();
    }

    public String initiatorName() {
        return key.initiatorName();
    }

    public String initiatorAlias() {
        return initiatorAlias;
    }

    /** The target, or null for a discovery session. */
    public IscsiTarget target() {
        return target;
    }

    public boolean discovery() {
        return target == null;
    }

    public SessionParams params() {
        return params;
    }

    public IscsiConnection connection() {
        return connection;
    }

    /** Discovery sessions only exchange text, a few commands at a time. */
    private static final int DISCOVERY_WINDOW = 16;

    /** The task set's size: the CmdSN window, and the bound on immediate commands outstanding besides it. */
    int queueDepth() {
        return queueDepth;
    }

    // ----- LUNs -----

    /**
     * Builds the I_T_L nexuses for the LUNs of the target this initiator may see (at login). The
     * others stay out of REPORT LUNS and answer LOGICAL UNIT NOT SUPPORTED, as if they did not exist.
     */
    void attachLuns(IntPredicate visible) {
        if (target == null) {
            return;
        }
        for (Map.Entry<Integer, LogicalUnit> e : target.luns().entrySet()) {
            if (!visible.test(e.getKey())) {
                continue;
            }
            ItlNexus n = new ItlNexus(this, e.getKey(), e.getValue());
            e.getValue().attach(n);
            nexuses.put(e.getKey(), n);
        }
        reportedLuns = nexuses.keySet().stream().mapToInt(Integer::intValue).toArray();
    }

    /**
     * A reload added a LUN to this session's target: if this initiator may see it, it gets a nexus,
     * and REPORTED LUNS DATA HAS CHANGED on the LUNs it already had. Runs on the session's loop.
     */
    void lunAdded(int lun, LogicalUnit unit, boolean visible) {
        if (!visible || nexuses.containsKey(lun)) {
            return;
        }
        for (ItlNexus other : nexuses.values()) {
            other.postUnitAttention(SenseCode.REPORTED_LUNS_DATA_CHANGED);
        }
        ItlNexus n = new ItlNexus(this, lun, unit);
        unit.attach(n);
        nexuses.put(lun, n);
        missing.remove(lun);
        reportedLuns = nexuses.keySet().stream().mapToInt(Integer::intValue).toArray();
    }

    /**
     * A reload removed a LUN: its nexus is detached (commands still arriving for it answer LOGICAL
     * UNIT NOT SUPPORTED), the other LUNs get REPORTED LUNS DATA HAS CHANGED. Runs on the session's loop.
     */
    void lunRemoved(int lun) {
        ItlNexus n = nexuses.remove(lun);
        if (n == null) {
            return;
        }
        n.unit().detach(n, false);
        reportedLuns = nexuses.keySet().stream().mapToInt(Integer::intValue).toArray();
        for (ItlNexus other : nexuses.values()) {
            other.postUnitAttention(SenseCode.REPORTED_LUNS_DATA_CHANGED);
        }
    }

    /** The logical units this session sees. */
    List<LogicalUnit> units() {
        return nexuses.values().stream().map(ItlNexus::unit).toList();
    }

    /** Detaches from every logical unit: the session ended, with a logout or lost. */
    void detachLuns(boolean lost) {
        for (ItlNexus n : nexuses.values()) {
            n.unit().detach(n, lost);
        }
        nexuses.clear();
    }

    /** The nexus for a LUN number; for a number without a unit, a nexus whose unit is null. */
    ItlNexus nexus(int lun) {
        ItlNexus n = nexuses.get(lun);
        if (n != null) {
            return n;
        }
        return missing.computeIfAbsent(lun, l -> new ItlNexus(this, l, null));
    }

    // ----- command numbering -----

    /**
     * Accepts a non-immediate command's CmdSN. Numbers outside the window are ignored silently, as
     * RFC 7143 says; a number ahead of ExpCmdSN cannot happen on a single TCP connection, and is
     * taken as the new position rather than stalling the session. ExpCmdSN itself is taken only while
     * the window is open: an initiator that ignores MaxCmdSN must not get more commands outstanding
     * (each may hold a write buffer) than the queue depth.
     */
    boolean acceptCmdSn(int cmdSn) {
        if (cmdSn - expCmdSn >= 0 && maxCmdSn() - cmdSn >= 0) {
            expCmdSn = cmdSn + 1;
            return true;
        }
        return false;
    }

    /** Checks an immediate command's CmdSN (it must equal ExpCmdSN but does not advance it). */
    int expCmdSn() {
        return expCmdSn;
    }

    /** The MaxCmdSN to advertise: the window grows as commands complete and never shrinks. */
    int maxCmdSn() {
        int candidate = expCmdSn - 1 + queueDepth() - outstanding;
        if (candidate - maxCmdSn > 0) {
            maxCmdSn = candidate;
        }
        return maxCmdSn;
    }

    void commandStarted() {
        outstanding++;
    }

    void commandEnded() {
        outstanding--;
    }

    /** SCSI commands received and not yet answered. */
    int outstanding() {
        return outstanding;
    }

    /** The same, for the admin API (read from another thread: a snapshot, not exact). */
    public int outstandingCommands() {
        return outstanding;
    }

    // ----- ItNexus -----

    @Override
    public String targetName() {
        return target == null ? "" : target.iqn();
    }

    @Override
    public String initiatorPortName() {
        return String.format("%s,i,0x%012x", key.initiatorName(), key.isid());
    }

    @Override
    public int relativeTargetPort() {
        return TargetDirectory.PORTAL_GROUP_TAG;
    }

    @Override
    public int[] reportedLuns() {
        return reportedLuns;
    }

    @Override
    public String toString() {
        return String.format("session tsih=%d %s -> %s", tsih, initiatorPortName(),
                target == null ? "(discovery)" : target.iqn());
    }
}
