package org.rtarget.server;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.rtarget.backend.BlockDevice;
import org.rtarget.config.Config;
import org.rtarget.config.ConfigDiff;
import org.rtarget.config.ConfigError;
import org.rtarget.config.ConfigException;
import org.rtarget.config.ConfigLoader;
import org.rtarget.config.LunConfig;
import org.rtarget.config.TargetConfig;
import org.rtarget.gate.StandbyGate;
import org.rtarget.server.iscsi.IscsiTarget;
import org.rtarget.server.iscsi.LiveLuns;
import org.rtarget.server.scsi.LogicalUnit;
import org.rtarget.server.scsi.SenseCode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A live reload: the configuration file is read and validated as a whole, the difference with
 * what runs is computed, and only that is applied. Sessions on unchanged LUNs see nothing.
 * Added LUNs appear (REPORTED LUNS DATA HAS CHANGED), removed ones drain and go, grown ones report
 * CAPACITY DATA HAS CHANGED, and a LUN whose backend changed under the same name is rebuilt as a
 * new device under the same identity (for ploop: the vz9 table reload, which clears standby).
 */
public final class ConfigReload {
    private static final Logger log = LoggerFactory.getLogger(ConfigReload.class);
    /** How long a reload waits for commands at a device it is about to swap or close. */
    private static final long DRAIN_SECONDS = 60;
    /** LUN keys a reload applies to the running unit without a new device. */
    private static final Set<String> IN_PLACE = Set.of("write-cache", "standby-enable", "standby-busy-max",
            "standby-fallback", "standby-errors", "stall-timeout", "drain-timeout");

    /** What a reload did. */
    public record Result(List<String> changes, List<String> errors, List<String> notApplied) {
        public boolean ok() {
            return errors.isEmpty();
        }
    }

    private final TargetServer server;
    private final List<String> changes = new ArrayList<>();
    private final List<String> errors = new ArrayList<>();
    private final List<String> notApplied = new ArrayList<>();

    private ConfigReload(TargetServer server) {
        this.server = server;
    }

    /** Reloads the server's configuration file. Serialized: one reload at a time. */
    static Result run(TargetServer server) {
        synchronized (server) {
            return new ConfigReload(server).apply();
        }
    }

    private Result apply() {
        Config old = server.config();
        if (old.source() == null) {
            errors.add("the built-in demo has no configuration file to reload");
            return result();
        }
        Config neu;
        try {
            neu = ConfigLoader.load(old.source());
        } catch (ConfigException e) {
            for (ConfigError error : e.errors()) {
                errors.add(error.toString());
            }
            // Logged as well as answered: a reload by SIGHUP or by --watch has nobody else to tell.
            log.warn("reload refused, the running configuration stays: {} error(s) in {}:\n  {}",
                    e.errors().size(), old.source(), String.join("\n  ", errors));
            return result();
        }
        ConfigDiff diff = ConfigDiff.between(old, neu);
        retryFailedLuns(neu, diff);
        for (String key : diff.serverChanges()) {
            if (key.equals("standby-check")) {
                server.standbyKey().set(neu.server().standbyCheck());
                changes.add("server: standby-check " + neu.server().standbyCheck());
            } else {
                notApplied.add("server: " + key + " changes at the next restart");
            }
        }
        for (TargetConfig t : diff.removedTargets()) {
            removeTarget(t);
        }
        for (TargetConfig t : diff.addedTargets()) {
            addTarget(t);
        }
        for (ConfigDiff.TargetDiff td : diff.changedTargets()) {
            changeTarget(td);
        }
        server.applied(neu);
        log.info("reload of {}: {} change(s){}", old.source(), changes.size(),
                changes.isEmpty() ? "" : ": " + String.join("; ", changes));
        return result();
    }

    /**
     * A ublk LUN without recovery lost its driver: like a ublk device in that mode it goes away
     * (sessions get REPORTED LUNS DATA HAS CHANGED, then LOGICAL UNIT NOT SUPPORTED). It stays in the
     * configuration, so the next reload opens it again with a new driver. Serialized with reloads.
     */
    static void withdrawDeadLun(TargetServer server, String iqn, LunConfig lun, BlockDevice dead) {
        synchronized (server) {
            IscsiTarget target = server.directory().find(iqn);
            TargetServer.ExportedLun e = server.exported().get(lun.name());
            if (server.closing() || target == null || e == null || e.unit().device() != dead) {
                return; // the server is stopping its drivers, or a reload already replaced or removed it
            }
            new ConfigReload(server).removeLun(target, lun); // takes the LUN's lock
            log.warn("target {} LUN {} ({}) withdrawn: its driver died and the LUN has no recovery; "
                    + "a reload brings it back", iqn, lun.lun(), lun.name());
        }
    }

    private Result result() {
        return new Result(List.copyOf(changes), List.copyOf(errors), List.copyOf(notApplied));
    }

    /**
     * LUNs that failed to open at start or at an earlier reload are tried again if still configured;
     * so are LUNs whose storage could not be opened again at an earlier rebuild (they wait in
     * standby, or run the configuration before it): a reload of an unchanged file recovers them.
     */
    private void retryFailedLuns(Config neu, ConfigDiff diff) {
        Set<String> changedTargets = new java.util.HashSet<>();
        diff.changedTargets().forEach(td -> changedTargets.add(td.iqn()));
        diff.addedTargets().forEach(t -> changedTargets.add(t.iqn()));
        for (TargetConfig t : neu.targets()) {
            IscsiTarget target = server.directory().find(t.iqn());
            if (target == null || changedTargets.contains(t.iqn())) {
                continue;
            }
            for (LunConfig lun : t.luns()) {
                TargetServer.ExportedLun e = server.exported().get(lun.name());
                if (e == null && !target.luns().containsKey(lun.lun())) {
                    addLun(target, lun);
                } else if (e != null && target.luns().get(lun.lun()) == e.unit()
                        && (e.unit().device() instanceof UnavailableDevice || !e.config().equals(lun))) {
                    rebuild(target, new ConfigDiff.LunChange(e.config(), lun, List.of("backend")));
                }
            }
        }
    }

    private void removeTarget(TargetConfig t) {
        IscsiTarget target = server.directory().find(t.iqn());
        if (target == null) {
            return;
        }
        List<IscsiTarget> kept = new ArrayList<>(server.directory().all());
        kept.remove(target);
        server.directory().replace(kept);
        LiveLuns.closeSessions(server.sessions(), target, "target " + t.iqn() + " was removed by a reload");
        for (Map.Entry<Integer, LogicalUnit> e : target.luns().entrySet()) {
            drain(e.getValue());
            TargetServer.ExportedLun lun = server.exported().get(e.getValue().name());
            if (lun != null) {
                server.retire(lun);
            }
        }
        changes.add("target " + t.iqn() + " removed");
    }

    private void addTarget(TargetConfig t) {
        IscsiTarget target = server.buildTarget(t);
        List<IscsiTarget> all = new ArrayList<>(server.directory().all());
        all.add(target);
        server.directory().replace(all);
        changes.add("target " + t.iqn() + " added with " + target.luns().size() + " LUN(s)");
        if (target.luns().size() < t.luns().size()) {
            errors.add("target " + t.iqn() + ": " + (t.luns().size() - target.luns().size())
                    + " LUN(s) could not be opened (see the log)");
        }
    }

    private void changeTarget(ConfigDiff.TargetDiff td) {
        IscsiTarget target = server.directory().find(td.iqn());
        if (target == null) {
            return;
        }
        TargetConfig t = td.neu();
        if (!td.changedSettings().isEmpty()) {
            target.settings(t.alias(), t.queueDepth(), t.auth(), t.acl());
            changes.add("target " + t.iqn() + ": " + String.join(", ", td.changedSettings())
                    + " changed (new logins use it)");
        }
        for (LunConfig lun : td.removedLuns()) {
            removeLun(target, lun);
        }
        for (LunConfig lun : td.addedLuns()) {
            addLun(target, lun);
        }
        for (ConfigDiff.LunChange change : td.resizedLuns()) {
            resize(target, change);
        }
        for (ConfigDiff.LunChange change : td.rebuiltLuns()) {
            rebuild(target, change);
        }
    }

    private void removeLun(IscsiTarget target, LunConfig lun) {
        var lock = server.lunLock(lun.name());
        lock.lock();
        try {
            removeLunLocked(target, lun);
        } finally {
            lock.unlock();
        }
    }

    private void removeLunLocked(IscsiTarget target, LunConfig lun) {
        LogicalUnit unit = target.luns().get(lun.lun());
        if (unit == null) {
            return; // it never opened
        }
        Map<Integer, LogicalUnit> luns = new HashMap<>(target.luns());
        luns.remove(lun.lun());
        target.luns(luns);
        await(LiveLuns.remove(server.sessions(), target, lun.lun(), unit), "LUN " + lun.name() + " to drain");
        TargetServer.ExportedLun e = server.exported().get(lun.name());
        if (e != null) {
            server.retire(e);
        }
        changes.add("target " + target.iqn() + ": LUN " + lun.lun() + " (" + lun.name() + ") removed");
    }

    private void addLun(IscsiTarget target, LunConfig lun) {
        TargetServer.ExportedLun e = server.export(target.iqn(), lun);
        if (e == null) {
            errors.add("target " + target.iqn() + ": LUN " + lun.lun() + " (" + lun.name()
                    + ") could not be opened (see the log); it will be tried again at the next reload");
            return;
        }
        Map<Integer, LogicalUnit> luns = new HashMap<>(target.luns());
        luns.put(lun.lun(), e.unit());
        target.luns(luns);
        LiveLuns.add(server.sessions(), target, lun.lun(), e.unit());
        changes.add("target " + target.iqn() + ": LUN " + lun.lun() + " (" + lun.name() + ") added");
    }

    private void resize(IscsiTarget target, ConfigDiff.LunChange change) {
        var lock = server.lunLock(change.neu().name());
        lock.lock();
        try {
            resizeLocked(target, change);
        } finally {
            lock.unlock();
        }
    }

    private void resizeLocked(IscsiTarget target, ConfigDiff.LunChange change) {
        TargetServer.ExportedLun e = server.exported().get(change.neu().name());
        if (e == null) {
            return;
        }
        try {
            e.unit().device().resize(change.neu().size());
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException ex) {
            errors.add("LUN " + change.neu().name() + " cannot grow: " + ex.getMessage());
            return;
        }
        server.exported().put(e.config().name(), e.withConfig(change.neu()));
        e.unit().postUnitAttention(SenseCode.CAPACITY_DATA_CHANGED, null);
        changes.add("target " + target.iqn() + ": LUN " + change.neu().lun() + " (" + change.neu().name()
                + ") grown from " + change.old().size() + " to " + change.neu().size() + " bytes");
    }

    /**
     * A LUN's settings changed under the same name. Write cache and standby settings apply to the
     * running unit; anything about its backend gives it a new device under the same identity,
     * through the one device switch every rebuild uses ({@link DeviceSwap}).
     */
    private void rebuild(IscsiTarget target, ConfigDiff.LunChange change) {
        var lock = server.lunLock(change.neu().name());
        if (!lock.tryLock()) {
            log.info("reload: waiting for the live operation on LUN {} to end", change.neu().name());
            lock.lock();
        }
        try {
            rebuildLocked(target, change);
        } finally {
            lock.unlock();
        }
    }

    private void rebuildLocked(IscsiTarget target, ConfigDiff.LunChange change) {
        TargetServer.ExportedLun e = server.exported().get(change.neu().name());
        if (e == null) {
            addLun(target, change.neu()); // it never opened: a new try
            return;
        }
        LunConfig lun = change.neu();
        LogicalUnit unit = e.unit();
        String what = "target " + target.iqn() + ": LUN " + lun.lun() + " (" + lun.name() + ")";
        if (IN_PLACE.containsAll(change.changedKeys())) {
            applyInPlace(unit, lun);
            server.exported().put(lun.name(), e.withConfig(lun));
            changes.add(what + ": " + String.join(", ", change.changedKeys()) + " changed in place");
            return;
        }
        if (lun.blockSize() != unit.blockSize()) {
            removeLunLocked(target, change.old());
            addLun(target, lun);
            return;
        }
        long oldSize = unit.device().size();
        String oldKind = unit.device().kind();
        String error = DeviceSwap.replace(unit, lun.standby().drainTimeout(), what,
                server.rebuildFrom(e, lun, e.config()));
        if (error != null) {
            errors.add(error);
        }
        LunConfig now = server.exported().get(lun.name()).config();
        if (now != lun) {
            return; // the LUN kept (or went back to) its old configuration
        }
        unit.modeSettings(lun.readOnly(), lun.writeCache());
        if (unit.device().size() != oldSize) {
            unit.postUnitAttention(SenseCode.CAPACITY_DATA_CHANGED, null);
        }
        if (!unit.device().kind().equals(oldKind)) {
            unit.postUnitAttention(SenseCode.INQUIRY_DATA_CHANGED, null);
        }
        changes.add(what + ": rebuilt as a new " + unit.device().kind() + " device ("
                + String.join(", ", change.changedKeys()) + " changed)");
    }

    private static void applyInPlace(LogicalUnit unit, LunConfig lun) {
        StandbyGate gate = unit.gate();
        gate.policy(TargetServer.gatePolicy(lun.standby(), unit.device()));
        if (unit.device().standbyCapable() && lun.standby().enable()) {
            gate.enable();
        } else {
            gate.disable();
        }
        unit.modeSettings(unit.readOnly(), lun.writeCache());
    }

    private void drain(LogicalUnit unit) {
        await(LiveLuns.drain(server.sessions(), unit), "commands at LUN " + unit.name() + " to finish");
    }

    private void await(java.util.concurrent.Future<?> f, String what) {
        try {
            f.get(DRAIN_SECONDS, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            log.warn("reload: waited {} s for {}; going on", DRAIN_SECONDS, what);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException e) {
            log.warn("reload: waiting for {} failed: {}", what, e.getCause().toString());
        }
    }
}
