package org.rtarget.server;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.flush.FlushConsolidationHandler;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import org.rtarget.backend.BlockDevice;
import org.rtarget.config.Config;
import org.rtarget.config.HostPort;
import org.rtarget.config.LunConfig;
import org.rtarget.config.TargetConfig;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.rtarget.backend.Errno;
import org.rtarget.config.DriverConfig;
import org.rtarget.config.StandbyConfig;
import org.rtarget.backend.DriverHost;
import org.rtarget.backend.ublk.DriverSupervisor;
import org.rtarget.gate.GatePolicy;
import org.rtarget.gate.StandbyGate;
import org.rtarget.gate.StandbyKey;
import org.rtarget.gate.StandbyStateFile;
import org.rtarget.server.admin.AdminApi;
import org.rtarget.server.admin.AdminServer;
import org.rtarget.server.iscsi.IscsiConnection;
import org.rtarget.server.iscsi.IscsiMetrics;
import org.rtarget.server.iscsi.IscsiTarget;
import org.rtarget.server.iscsi.ServerContext;
import org.rtarget.server.iscsi.SessionRegistry;
import org.rtarget.server.iscsi.TargetDirectory;
import org.rtarget.server.scsi.LogicalUnit;
import org.rtarget.server.scsi.LunIdentity;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running target: logical units built from the configuration, the iSCSI listeners on every
 * portal, and what is needed to stop them all cleanly.
 */
public final class TargetServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TargetServer.class);
    /** How often every LUN's gate looks for commands stuck at the storage (stall-timeout). */
    private static final long STALL_CHECK_MILLIS = 250;

    private volatile Config config;
    /**
     * Threads for blocking backend I/O (file and ploop images), shared; each device uses at most
     * its LUN's io-threads of them at once (an {@link IoLane}), so a hung mount holds up no other LUN.
     */
    private final ExecutorService ioExecutor;
    private final java.util.concurrent.ScheduledExecutorService stallWatch;
    /** One live operation per LUN at a time (recover, ploop operations, a reload's change to it). */
    private final Map<String, java.util.concurrent.locks.ReentrantLock> lunLocks =
            new java.util.concurrent.ConcurrentHashMap<>();
    private final EventLoopGroup group;
    private final Class<? extends ServerChannel> channelType;
    private final List<Channel> listeners = new ArrayList<>();
    /** Every LUN exported now, by its (config-wide unique) name. */
    private final Map<String, ExportedLun> exported = new java.util.concurrent.ConcurrentHashMap<>();
    private BackendFactory backends;
    private final PloopOperations ploop = new PloopOperations(this);
    private final SessionRegistry sessions;
    private final PrometheusMeterRegistry metrics = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final StandbyKey standbyKey;
    private TargetDirectory directory;
    private AdminServer admin;
    private HostPort adminAddress;
    private volatile boolean closing;

    private TargetServer(Config config) {
        this.config = config;
        this.sessions = new SessionRegistry(config.server().maxSessionsPerTarget(),
                config.server().maxSessionsPerInitiator());
        this.standbyKey = new StandbyKey(config.server().standbyCheck());
        // Two of Micrometer's process meters break Prometheus naming rules (promtool lints them):
        // CPU time in "ns", and a gauge ending in "_count". The others say the same.
        metrics.config().meterFilter(io.micrometer.core.instrument.config.MeterFilter.deny(id ->
                id.getName().equals("process.cpu.time") || id.getName().equals("system.cpu.count")));
        // The process itself, for dashboards: memory, GC, threads, CPU, descriptors, uptime.
        new io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics().bindTo(metrics);
        new io.micrometer.core.instrument.binder.jvm.JvmGcMetrics().bindTo(metrics);
        new io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics().bindTo(metrics);
        new io.micrometer.core.instrument.binder.system.ProcessorMetrics().bindTo(metrics);
        new io.micrometer.core.instrument.binder.system.FileDescriptorMetrics().bindTo(metrics);
        new io.micrometer.core.instrument.binder.system.UptimeMetrics().bindTo(metrics);
        this.ioExecutor = Executors.newCachedThreadPool(daemonThreads("rtarget-io-"));
        this.stallWatch = Executors.newSingleThreadScheduledExecutor(daemonThreads("rtarget-stall-watch-"));
        stallWatch.scheduleAtFixedRate(this::checkStalls, STALL_CHECK_MILLIS, STALL_CHECK_MILLIS,
                java.util.concurrent.TimeUnit.MILLISECONDS);
        IoHandlerFactory io;
        if (Epoll.isAvailable()) {
            io = EpollIoHandler.newFactory();
            channelType = EpollServerSocketChannel.class;
        } else {
            io = NioIoHandler.newFactory();
            channelType = NioServerSocketChannel.class;
        }
        this.group = new MultiThreadIoEventLoopGroup(0, daemonThreads("rtarget-loop-"), io);
    }

    /** Builds every LUN and listens on every portal; a LUN that cannot open is logged and left out. */
    public static TargetServer start(Config config) throws IOException, InterruptedException {
        TargetServer server = new TargetServer(config);
        try {
            server.buildTargets();
            server.listen();
            server.admin = new AdminServer(new AdminApi(server), config.server());
            server.adminAddress = server.admin.start(config.server().admin());
            return server;
        } catch (IOException | InterruptedException | RuntimeException e) {
            server.close();
            throw e;
        }
    }

    /** A LUN as exported: the configuration it was built from, its unit, its driver supervisor if any. */
    record ExportedLun(String iqn, LunConfig config, LogicalUnit unit, DriverSupervisor supervisor) {
        ExportedLun withConfig(LunConfig newConfig) {
            return new ExportedLun(iqn, newConfig, unit, supervisor);
        }
    }

    private void buildTargets() {
        backends = new BackendFactory(ioExecutor, config.server().stateDir());
        List<IscsiTarget> targets = new ArrayList<>();
        for (TargetConfig t : config.targets()) {
            targets.add(buildTarget(t));
        }
        directory = new TargetDirectory(targets, config.server().portals(), config.server().discoveryAuth());
    }

    /** A target with every LUN of its configuration that opens; the others are logged and left out. */
    IscsiTarget buildTarget(TargetConfig t) {
        Map<Integer, LogicalUnit> luns = new LinkedHashMap<>();
        for (LunConfig lun : t.luns()) {
            ExportedLun e = export(t.iqn(), lun);
            if (e != null) {
                luns.put(lun.lun(), e.unit());
            }
        }
        return new IscsiTarget(t.iqn(), t.alias(), t.queueDepth(), t.auth(), t.acl(), luns);
    }

    /** Opens a LUN's device, puts its gate in front and records it; null (logged) if it cannot open. */
    ExportedLun export(String iqn, LunConfig lun) {
        BlockDevice device = openDevice(iqn, lun);
        if (device == null) {
            return null;
        }
        LunIdentity identity = LunIdentity.of(lun.name(), device.kind());
        StandbyGate gate = new StandbyGate(lun.name(), standbyKey, gatePolicy(lun.standby(), device),
                new StandbyStateFile(config.server().stateDir(), lun.name()), metrics);
        if (device.standbyCapable() && lun.standby().enable()) {
            gate.enable(); // the LUN joins its target: it may enter standby from now on
        }
        device.attach(gate);
        LogicalUnit unit = new LogicalUnit(identity, device, gate, lun.readOnly(), lun.writeCache());
        unit.publish(metrics);
        DriverSupervisor supervisor = device.driverHost() != null ? startDriver(iqn, lun, device) : null;
        log.info("target {} LUN {}: {} ({} backend, {} bytes, {}-byte blocks, wwn {})", iqn, lun.lun(),
                lun.name(), device.kind(), device.size(), device.blockSize(), identity.wwn());
        ExportedLun e = new ExportedLun(iqn, lun, unit, supervisor);
        exported.put(lun.name(), e);
        return e;
    }

    /** The device a LUN's configuration describes, or null (logged) if it cannot open. */
    BlockDevice openDevice(String iqn, LunConfig lun) {
        try {
            return backends.open(lun);
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            log.error("target {} LUN {} ({}) is not exported: {}", iqn, lun.lun(), lun.name(), e.getMessage());
            return null;
        }
    }

    /**
     * A LUN served by a driver process: its supervisor runs driver.command; without one, an operator
     * starts a driver by hand.
     */
    DriverSupervisor startDriver(String iqn, LunConfig lun, BlockDevice device) {
        DriverHost host = device.driverHost();
        // Off the device's own thread: withdrawing drains sessions and closes the device.
        host.onDead(() -> Thread.ofPlatform().daemon().name("rtarget-withdraw-" + lun.name())
                .start(() -> ConfigReload.withdrawDeadLun(this, iqn, lun, device)));
        DriverConfig d = lun.driver();
        if (d.command().isEmpty()) {
            return null;
        }
        Path workDir = config.source() == null ? Path.of("").toAbsolutePath() : config.source().toAbsolutePath().getParent();
        DriverSupervisor supervisor = new DriverSupervisor(lun.name(), d.command(), host.driverSocket(), workDir,
                d.restartBackoff(), d.restartLimit(), host);
        supervisor.start();
        return supervisor;
    }

    /**
     * Takes a LUN out of service for good once nothing uses it: its standby-enable is cleared, its
     * exported state removed, its driver stopped and its device closed.
     */
    void retire(ExportedLun e) {
        exported.remove(e.config().name(), e);
        StandbyGate gate = e.unit().gate();
        gate.disable();
        gate.removeExportedState();
        gate.close();
        e.unit().unpublish(metrics);
        if (e.supervisor() != null) {
            e.supervisor().close();
        }
        e.unit().device().close();
    }

    /** Whether {@link #close} has begun. */
    boolean closing() {
        return closing;
    }

    Map<String, ExportedLun> exported() {
        return exported;
    }

    BackendFactory backends() {
        return backends;
    }

    ExecutorService ioExecutor() {
        return ioExecutor;
    }

    /** Snapshot, merge, replace-delta and table reload of exported ploop LUNs. */
    public PloopOperations ploop() {
        return ploop;
    }

    void applied(Config newConfig) {
        this.config = newConfig;
    }

    /**
     * The gate policy of a LUN on {@code device}. Without {@code standby-errors} the set depends on
     * the storage: EIO counts as an outage where the storage says so (ploop, drivers, images on FUSE
     * or network file systems), not on a local disk, where it is one bad block.
     */
    static GatePolicy gatePolicy(StandbyConfig standby, BlockDevice device) {
        List<String> names = standby.errorsOr(device.eioMeansOutage() ? StandbyConfig.DEFAULT_ERRORS
                : StandbyConfig.DEFAULT_ERRORS_LOCAL);
        List<Integer> errnos = names.stream().map(Errno::byName).toList();
        GatePolicy.Fallback fallback = switch (standby.fallback()) {
            case NOT_READY -> GatePolicy.Fallback.NOT_READY;
            case DROP -> GatePolicy.Fallback.DROP;
            case HARDWARE_ERROR -> GatePolicy.Fallback.HARDWARE_ERROR;
        };
        return GatePolicy.of(errnos, standby.busyMax(), fallback, standby.stallTimeout());
    }

    /** Every LUN's gate looks for commands stuck at its storage. */
    private void checkStalls() {
        long now = System.nanoTime();
        for (ExportedLun e : exported.values()) {
            try {
                e.unit().gate().tick(now);
            } catch (RuntimeException ex) {
                log.error("stall check of LUN {} failed", e.config().name(), ex);
            }
        }
    }

    /** The lock that serializes live operations on one LUN (by name). */
    java.util.concurrent.locks.ReentrantLock lunLock(String name) {
        return lunLocks.computeIfAbsent(name, n -> new java.util.concurrent.locks.ReentrantLock());
    }

    private void listen() throws IOException, InterruptedException {
        ServerContext context = new ServerContext(directory, sessions, config.server().maxRecvDataSegmentLength(),
                config.server().nopInterval(), config.server().nopTimeout(), config.server().loginTimeout(),
                new IscsiMetrics(metrics, sessions));
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(group)
                .channel(channelType)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.SO_KEEPALIVE, true)
                .childOption(ChannelOption.ALLOCATOR, PooledByteBufAllocator.DEFAULT)
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(4 << 20, 16 << 20))
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        IscsiConnection connection = new IscsiConnection(context);
                        ch.pipeline().addLast(new FlushConsolidationHandler(256, true), connection.decoder(), connection);
                    }
                });
        List<HostPort> bound = new ArrayList<>();
        for (HostPort portal : config.server().portals()) {
            try {
                Channel ch = bootstrap.bind(new InetSocketAddress(portal.host(), portal.port())).sync().channel();
                listeners.add(ch);
                InetSocketAddress local = (InetSocketAddress) ch.localAddress();
                bound.add(new HostPort(portal.host(), local.getPort()));
                log.info("listening for iSCSI on {}", new HostPort(local.getAddress().getHostAddress(), local.getPort()));
            } catch (Exception e) {
                throw new IOException("cannot listen on " + portal + ": " + e.getMessage(), e);
            }
        }
        directory.portals(bound);
    }

    public Config config() {
        return config;
    }

    public TargetDirectory directory() {
        return directory;
    }

    public SessionRegistry sessions() {
        return sessions;
    }

    /**
     * Re-reads the configuration file and applies the difference (blocking: it waits for commands
     * at devices it swaps or closes). An invalid file changes nothing.
     */
    public ConfigReload.Result reload() {
        return ConfigReload.run(this);
    }

    /** The admin endpoint's address as bound. */
    public HostPort adminAddress() {
        return adminAddress;
    }

    /** The outcome of an operator's recovery action. */
    public record RecoverResult(LogicalUnit unit, String error, boolean notFound) {
    }

    /**
     * The operator says a LUN's storage is back: reopen its image ({@code image}, or the same path
     * when null) and, on success, leave standby. The LUN is held and drained, and the old storage
     * synced, first ({@link DeviceSwap}). A LUN whose storage could not be opened again at an
     * earlier attempt is opened from its configuration (or at {@code image}, for a file LUN).
     * Blocking: call it off the iSCSI event loops.
     */
    public RecoverResult recover(String iqn, int lun, Path image) {
        IscsiTarget target = directory.find(iqn);
        LogicalUnit unit = target == null ? null : target.luns().get(lun);
        if (unit == null) {
            return new RecoverResult(null, target == null ? "no target " + iqn : "target " + iqn + " has no LUN " + lun,
                    true);
        }
        var lock = lunLock(unit.name());
        lock.lock();
        try {
            ExportedLun e = exported.get(unit.name());
            if (unit.device() instanceof UnavailableDevice && e != null) {
                LunConfig from = image != null && e.config().path() != null ? withPath(e.config(), image) : e.config();
                String error = DeviceSwap.replace(unit, e.config().standby().drainTimeout(), "recovery",
                        rebuildFrom(e, from, e.config()));
                if (error != null) {
                    log.warn("LUN {}: recovery failed: {}", unit.name(), error);
                    return new RecoverResult(unit, error, false);
                }
            } else if (!unit.device().operatorRecovers()) {
                return new RecoverResult(unit, unit.device().kind() + " LUNs have no operator recovery"
                        + (unit.device().driverHost() != null ? " (a new driver recovers them)" : ""), false);
            } else {
                DeviceSwap.inPlace(unit, e != null ? e.config().standby().drainTimeout()
                        : StandbyConfig.DEFAULT_DRAIN_TIMEOUT, "recovery", device -> device.recover(image));
            }
            log.info("LUN {} ({} LUN {}): storage recovered by the operator{}", unit.name(), iqn, lun,
                    image == null ? "" : " onto " + image);
            return new RecoverResult(unit, null, false);
        } catch (IOException | UnsupportedOperationException | IllegalStateException e) {
            log.warn("LUN {}: recovery failed: {}", unit.name(), e.getMessage());
            return new RecoverResult(unit, e.getMessage(), false);
        } finally {
            lock.unlock();
        }
    }

    private static LunConfig withPath(LunConfig c, Path path) {
        return new LunConfig(c.lun(), c.name(), c.backend(), path, c.size(), c.blockSize(), c.readOnly(),
                c.writeCache(), c.deltas(), c.driver(), c.standby(), c.ioThreads());
    }

    /**
     * How a LUN gets a new device built from {@code config} (falling back to {@code oldConfig}):
     * the one replacement every rebuild uses (a reload's changed backend, a ploop table reload, the
     * recovery of a LUN whose storage could not be opened again).
     */
    DeviceSwap.Replacement rebuildFrom(ExportedLun e, LunConfig config, LunConfig oldConfig) {
        LogicalUnit unit = e.unit();
        return new DeviceSwap.Replacement() {
            @Override
            public BlockDevice open() {
                return openDevice(e.iqn(), config);
            }

            @Override
            public BlockDevice reopenOld() {
                return oldConfig == config ? null : openDevice(e.iqn(), oldConfig);
            }

            @Override
            public void stopOld() {
                if (e.supervisor() != null) {
                    e.supervisor().close();
                }
            }

            @Override
            public void installed(BlockDevice device, boolean fromNew) {
                LunConfig now = fromNew ? config : oldConfig;
                StandbyGate gate = unit.gate();
                gate.policy(gatePolicy(now.standby(), device));
                if (device.standbyCapable() && now.standby().enable()) {
                    gate.enable();
                } else {
                    gate.disable();
                }
                DriverSupervisor supervisor = device.driverHost() != null ? startDriver(e.iqn(), now, device) : null;
                exported.put(now.name(), new ExportedLun(e.iqn(), now, unit, supervisor));
            }
        };
    }

    public PrometheusMeterRegistry metrics() {
        return metrics;
    }

    public StandbyKey standbyKey() {
        return standbyKey;
    }

    /** The port the first portal listens on (useful when the configuration asked for port 0). */
    public int boundPort(int index) {
        return ((InetSocketAddress) listeners.get(index).localAddress()).getPort();
    }

    @Override
    public void close() {
        closing = true; // drivers stopped from here on are not crashes (see ConfigReload.withdrawDeadLun)
        stallWatch.shutdownNow();
        if (admin != null) {
            admin.close();
        }
        for (Channel ch : listeners) {
            ch.close().awaitUninterruptibly();
        }
        for (var s : sessions.all()) {
            s.connection().close("server shutting down");
        }
        group.shutdownGracefully(0, 2, java.util.concurrent.TimeUnit.SECONDS).awaitUninterruptibly();
        for (ExportedLun e : exported.values()) {
            if (e.supervisor() != null) {
                e.supervisor().close();
            }
            e.unit().device().close();
        }
        ioExecutor.shutdown();
    }

    private static ThreadFactory daemonThreads(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
