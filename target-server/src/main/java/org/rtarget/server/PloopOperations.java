package org.rtarget.server;

import java.io.IOException;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.rtarget.backend.ploop.PloopDevice;
import org.rtarget.gate.StandbyGate;
import org.rtarget.server.iscsi.IscsiTarget;
import org.rtarget.server.iscsi.LiveLuns;
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

    /** vz7: the top delta is swapped for {@code image} (or reopened), and standby is cleared. */
    public Result replaceDelta(String iqn, int lun, Path image) {
        return withPloop(iqn, lun, (e, device) -> {
            device.replaceTopDelta(image != null ? image : device.deltas().getLast());
            log.info("ploop LUN {}: top delta replaced by {}", e.config().name(), device.deltas().getLast());
        });
    }

    /**
     * vz9: the LUN's chain is opened again as a new ploop instance under the same LUN identity,
     * replacing the old instance; the new instance clears standby.
     */
    public Result reloadTable(String iqn, int lun) {
        TargetServer.ExportedLun e = exportedPloop(iqn, lun);
        if (e == null) {
            return Result.error("no ploop LUN " + lun + " in target " + iqn, true);
        }
        LogicalUnit unit = e.unit();
        StandbyGate gate = unit.gate();
        PloopDevice old = (PloopDevice) unit.device();
        List<Path> chain = old.deltas();
        gate.pause();
        PloopDevice fresh;
        try {
            await(LiveLuns.drain(server.sessions(), unit));
            old.close(); // the old instance holds the top delta read-write: it goes first
            try {
                fresh = PloopDevice.open(chain, e.config().readOnly(), server.ioExecutor());
            } catch (IOException ex) {
                log.warn("ploop LUN {}: table reload failed: {}", e.config().name(), ex.getMessage());
                gate.storageLost(org.rtarget.backend.IoFailure.of(org.rtarget.backend.IoFailure.Kind.UNAVAILABLE, 0,
                        "table reload failed: " + ex.getMessage()));
                return Result.error("the chain could not be opened again: " + ex.getMessage()
                        + " (the LUN stays in standby; fix the storage and reload again)", false);
            }
            unit.replaceDevice(fresh);
            fresh.attach(gate);
        } finally {
            gate.resume();
        }
        gate.storageRecovered(); // the new instance clears standby, as ploop_ctr does in vz9
        log.info("ploop LUN {}: table reloaded as a new instance over {}", e.config().name(), chain);
        server.backends().ploopChains().record(e.config().name(), e.config().deltas(), fresh.deltas());
        return new Result(unit, fresh.deltas(), null, false);
    }

    @FunctionalInterface
    private interface PloopAction {
        void run(TargetServer.ExportedLun lun, PloopDevice device) throws IOException;
    }

    private Result withPloop(String iqn, int lun, PloopAction action) {
        TargetServer.ExportedLun e = exportedPloop(iqn, lun);
        if (e == null) {
            return Result.error("no ploop LUN " + lun + " in target " + iqn, true);
        }
        PloopDevice device = (PloopDevice) e.unit().device();
        try {
            action.run(e, device);
        } catch (IOException | RuntimeException ex) {
            log.warn("ploop LUN {}: {}", e.config().name(), ex.getMessage());
            return Result.error(ex.getMessage(), false);
        }
        server.backends().ploopChains().record(e.config().name(), e.config().deltas(), device.deltas());
        return new Result(e.unit(), device.deltas(), null, false);
    }

    private TargetServer.ExportedLun exportedPloop(String iqn, int lun) {
        IscsiTarget target = server.directory().find(iqn);
        LogicalUnit unit = target == null ? null : target.luns().get(lun);
        if (unit == null || !(unit.device() instanceof PloopDevice)) {
            return null;
        }
        return server.exported().get(unit.name());
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

    private static void await(java.util.concurrent.Future<?> f) {
        try {
            f.get(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            log.warn("waiting for commands to leave the device: {}", e.toString());
        }
    }
}
