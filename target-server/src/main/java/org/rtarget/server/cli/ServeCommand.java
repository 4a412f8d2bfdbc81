package org.rtarget.server.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.rtarget.config.Config;
import org.rtarget.config.ConfigError;
import org.rtarget.config.ConfigException;
import org.rtarget.config.ConfigLoader;
import org.rtarget.config.HostPort;
import org.rtarget.server.ConfigWatcher;
import org.rtarget.server.TargetServer;
import org.rtarget.server.iscsi.IscsiTarget;
import org.rtarget.server.scsi.LogicalUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Runs the target until it is stopped (SIGTERM or Ctrl-C). */
@Command(name = "serve", description = "Run the target. Without --config: a demo target with one memory LUN on 127.0.0.1:3260.")
final class ServeCommand implements Callable<Integer> {

    @Option(names = "--config", paramLabel = "FILE", description = "the YAML configuration")
    Path configFile;

    @Option(names = "--watch", description = "reload the configuration whenever its file changes "
            + "(debounced; an invalid file changes nothing)")
    boolean watch;

    @Override
    public Integer call() throws Exception {
        Config config;
        try {
            config = configFile == null ? Config.demo() : ConfigLoader.load(configFile);
        } catch (ConfigException e) {
            for (ConfigError error : e.errors()) {
                System.err.println(error);
            }
            return 1;
        }
        if (watch && configFile == null) {
            System.err.println("--watch needs --config FILE: the built-in demo has no file to watch");
            return 2;
        }
        // The handler goes in before the server starts listening: a SIGHUP right after start (a
        // systemd ExecReload) must reload, not kill the JVM as its default action would.
        SighupReload sighup = SighupReload.install();
        TargetServer server = TargetServer.start(config);
        sighup.serve(server);
        ConfigWatcher watcher = watch ? ConfigWatcher.start(configFile, server::reload, ConfigWatcher.DEFAULT_DEBOUNCE)
                : null;
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (watcher != null) {
                watcher.close();
            }
            server.close();
            stopped.countDown();
        }, "rtarget-shutdown"));
        printBanner(server);
        stopped.await();
        return 0;
    }

    /**
     * SIGHUP reloads the configuration, as daemons do; the work runs off the signal thread. A
     * SIGHUP that comes while the server is still starting is kept and served once it runs.
     */
    private static final class SighupReload {
        private TargetServer server;
        private boolean pending;

        static SighupReload install() {
            SighupReload r = new SighupReload();
            try {
                sun.misc.Signal.handle(new sun.misc.Signal("HUP"), signal -> r.signalled());
            } catch (IllegalArgumentException e) {
                // no SIGHUP on this platform: reload through the admin API only
            }
            return r;
        }

        private synchronized void signalled() {
            if (server == null) {
                pending = true;
            } else {
                reload(server);
            }
        }

        synchronized void serve(TargetServer started) {
            server = started;
            if (pending) {
                pending = false;
                reload(started);
            }
        }

        private static void reload(TargetServer server) {
            Thread.ofPlatform().daemon().name("rtarget-reload").start(server::reload);
        }
    }

    private static void printBanner(TargetServer server) {
        HostPort portal = server.directory().portals().getFirst();
        String host = portal.host().contains(":") ? "[" + portal.host() + "]" : portal.host();
        StringBuilder b = new StringBuilder();
        b.append("rtarget is serving on ").append(server.directory().portals()).append(" (admin API on ")
                .append(server.adminAddress()).append(")\n");
        for (IscsiTarget t : server.directory().all()) {
            for (var e : t.luns().entrySet()) {
                LogicalUnit lu = e.getValue();
                b.append(String.format("  iscsi://%s:%d/%s/%d  %s (%s, %d MiB)%n", host, portal.port(), t.iqn(),
                        e.getKey(), lu.name(), lu.device().kind(), lu.device().size() >> 20));
            }
        }
        // The example names a LUN that exists: the first target's lowest LUN number.
        IscsiTarget first = server.directory().all().isEmpty() ? null : server.directory().all().iterator().next();
        String lunNumber = first == null || first.luns().isEmpty() ? "0"
                : String.valueOf(first.luns().keySet().stream().mapToInt(Integer::intValue).min().orElse(0));
        b.append("Try: iscsi-inq iscsi://").append(host).append(':').append(portal.port()).append('/')
                .append(first == null ? "IQN" : first.iqn()).append('/').append(lunNumber)
                .append("   (Ctrl-C stops the target)");
        System.out.println(b);
    }
}
