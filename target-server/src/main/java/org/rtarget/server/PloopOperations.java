package org.rtarget.server;

import java.io.IOException;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.rtarget.backend.ploop.PloopDevice;
import org.rtarget.server.iscsi.IscsiTarget;
import org.rtarget.server.scsi.LogicalUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What an operator does to a ploop LUN the server exports, without stopping its sessions:
 * snapshot, merge, replace the top delta (the vz7 recovery) and reload the table as a new instance
 * (the vz9 recovery). Each records the new chain (see {@link PloopChains}).
 */
public final class PloopOperations {
    private static final Logger log = LoggerFactory.getLogger(PloopOperations.class);
    private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss");

    /** The outcome: the unit and its chain, or an error (notFound: no such target, LUN, or not ploop). */
    public record Result(LogicalUnit unit, List<Path> chain, String error, boolean notFound) {
        static Result error(String message, boolean notFound) {
            return new Result(null, List.of(), message, notFound);
        }
    }

    /** Progress of a running merge, per LUN name: clusters done and total. */
    public record MergeProgress(long done, long total, boolean running) {
    }

    private final TargetServer server;
    private final Map<String, MergeProgress> merges = new ConcurrentHashMap<>();

    PloopOperations(TargetServer server) {
        this.server = server;
    }

    public Result snapshot(String iqn, int lun, Path newTop) {
        return withPloop(iqn, lun, (e, device) -> {
            Path top = newTop != null ? newTop : nextDeltaName(device.deltas().getLast());
            device.snapshot(top);
            log.info("ploop LUN {}: snapshot taken, new top delta {}", e.config().name(), top);
        });
    }

    public Result merge(String iqn, int lun) {
        return withPloop(iqn, lun, (e, device) -> {
            String name = e.config().name();
            merges.put(name, new MergeProgress(0, 0, true));
            try {
                Path removed = device.mergeTop((done, total) -> merges.put(name, new MergeProgress(done, total, true)));
                log.info("ploop LUN {}: top delta merged down; {} left the chain", name, removed);
            } finally {
                MergeProgress last = merges.get(name);
                merges.put(name, new MergeProgress(last.done(), last.total(), false));
            }
        });
    }

    /** The progress of the merge running on (or last run on) a LUN, or null. */
    public MergeProgress mergeProgress(String iqn, int lun) {
        IscsiTarget target = server.directory().find(iqn);
        LogicalUnit unit = target == null ? null : target.luns().get(lun);
        return unit == null ? null : merges.get(unit.name());
    }

    /**
     * vz7: the top delta is swapped for {@code image} (or reopened), and standby is cleared. The
     * LUN is held, drained and synced first ({@link DeviceSwap}).
     */
    public Result replaceDelta(String iqn, int lun, Path image) {
        return withPloop(iqn, lun, (e, device) -> {
            Path top = image != null ? image : device.deltas().getLast();
            DeviceSwap.inPlace(e.unit(), e.config().standby().drainTimeout(), "replace-delta",
                    d -> device.replaceTopDelta(top));
            log.info("ploop LUN {}: top delta replaced by {}", e.config().name(), device.deltas().getLast());
        });
    }

    /**
     * vz9: the LUN's chain (as last recorded) is opened again as a new ploop instance under the same
     * LUN identity, replacing the old instance; the new instance clears standby. If it cannot open
     * (the storage is still down), the LUN waits in standby and the next attempt (this, a recovery
     * or a reload) opens it.
     */
    public Result reloadTable(String iqn, int lun) {
        TargetServer.ExportedLun found = exportedPloop(iqn, lun);
        if (found == null) {
            return Result.error("no ploop LUN " + lun + " in target " + iqn, true);
        }
        var lock = server.lunLock(found.config().name());
        lock.lock();
        try {
            TargetServer.ExportedLun e = server.exported().get(found.config().name());
            LogicalUnit unit = e.unit();
            String error = DeviceSwap.replace(unit, e.config().standby().drainTimeout(), "table reload",
                    server.rebuildFrom(e, e.config(), e.config()));
            if (error != null) {
                log.warn("ploop LUN {}: {}", e.config().name(), error);
                return Result.error(error, false);
            }
            List<Path> chain = ((PloopDevice) unit.device()).deltas();
            log.info("ploop LUN {}: table reloaded as a new instance over {}", e.config().name(), chain);
            return new Result(unit, chain, null, false);
        } finally {
            lock.unlock();
        }
    }

    @FunctionalInterface
    private interface PloopAction {
        void run(TargetServer.ExportedLun lun, PloopDevice device) throws IOException;
    }

    /** Runs a live operation on an open ploop LUN, one per LUN at a time, and records its new chain. */
    private Result withPloop(String iqn, int lun, PloopAction action) {
        TargetServer.ExportedLun found = exportedPloop(iqn, lun);
        if (found == null) {
            return Result.error("no ploop LUN " + lun + " in target " + iqn, true);
        }
        var lock = server.lunLock(found.config().name());
        lock.lock();
        try {
            TargetServer.ExportedLun e = server.exported().get(found.config().name());
            if (!(e.unit().device() instanceof PloopDevice device)) {
                return Result.error("the chain of LUN " + lun + " is not open (its storage could not be opened "
                        + "again); run ploop reload or lun recover once the storage is back", false);
            }
            try {
                action.run(e, device);
            } catch (IOException | RuntimeException ex) {
                log.warn("ploop LUN {}: {}", e.config().name(), ex.getMessage());
                return Result.error(ex.getMessage(), false);
            }
            server.backends().ploopChains().record(e.config().name(), e.config().deltas(), device.deltas());
            return new Result(e.unit(), device.deltas(), null, false);
        } finally {
            lock.unlock();
        }
    }

    /** The exported ploop LUN (open, or waiting for its chain to open again), or null. */
    private TargetServer.ExportedLun exportedPloop(String iqn, int lun) {
        IscsiTarget target = server.directory().find(iqn);
        LogicalUnit unit = target == null ? null : target.luns().get(lun);
        TargetServer.ExportedLun e = unit == null ? null : server.exported().get(unit.name());
        return e != null && e.config().backend() == org.rtarget.config.BackendType.PLOOP ? e : null;
    }

    /** A new top delta's name beside the current one: {@code <top>.<timestamp>}. */
    private static Path nextDeltaName(Path top) {
        String base = top.getFileName().toString().replaceAll("\\.\\d{8}-\\d{6}(-\\d+)?$", "");
        Path candidate = top.resolveSibling(base + "." + LocalDateTime.now().format(STAMP));
        for (int i = 1; java.nio.file.Files.exists(candidate); i++) {
            candidate = top.resolveSibling(base + "." + LocalDateTime.now().format(STAMP) + "-" + i);
        }
        return candidate;
    }

}
