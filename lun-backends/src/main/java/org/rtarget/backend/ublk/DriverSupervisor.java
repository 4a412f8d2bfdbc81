package org.rtarget.backend.ublk;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.rtarget.backend.DriverHost;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps a ublk LUN's driver process running: starts {@code command --socket PATH}, logs what it
 * prints, and when it exits starts a new one after the back-off (doubled after each exit that did
 * not get the device LIVE), giving up after {@code limit} such exits in a row. Nothing tells the
 * target a driver crashed but the socket closing; this is the part that brings a new one.
 */
public final class DriverSupervisor implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(DriverSupervisor.class);

    private final String lun;
    private final List<String> command;
    private final Path workDir;
    private final Duration backoff;
    private final int limit;
    private final ScheduledExecutorService scheduler;
    private final DriverHost device;
    private Process process;
    private long liveCountAtLaunch;
    private int failuresInARow;
    private int restarts;
    private boolean closed;

    public DriverSupervisor(String lun, List<String> command, Path socket, Path workDir, Duration backoff, int limit,
                            DriverHost device) {
        this.lun = lun;
        List<String> full = new ArrayList<>(command);
        full.add("--socket");
        full.add(socket.toString());
        this.command = List.copyOf(full);
        this.workDir = workDir;
        this.backoff = backoff;
        this.limit = limit;
        this.device = device;
        this.scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "ublk-supervisor-" + lun);
            t.setDaemon(true);
            return t;
        });
    }

    /** Starts the first driver. */
    public void start() {
        scheduler.execute(this::launch);
    }

    /** How many drivers were started after the first. */
    public synchronized int restarts() {
        return restarts;
    }

    private synchronized void launch() {
        if (closed) {
            return;
        }
        try {
            process = new ProcessBuilder(command).directory(workDir.toFile()).redirectErrorStream(true).start();
        } catch (IOException e) {
            log.error("ublk LUN {}: cannot start the driver {}: {}", lun, command, e.getMessage());
            exited(-1);
            return;
        }
        Process p = process;
        liveCountAtLaunch = device.liveCount();
        log.info("ublk LUN {}: started driver pid {}: {}", lun, p.pid(), String.join(" ", command));
        Thread output = new Thread(() -> copyOutput(p), "ublk-driver-log-" + lun);
        output.setDaemon(true);
        output.start();
        p.onExit().thenAccept(ended -> scheduler.execute(() -> exited(ended.exitValue())));
    }

    private void copyOutput(Process p) {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                log.info("ublk LUN {} driver {}: {}", lun, p.pid(), line);
            }
        } catch (IOException e) {
            // the driver is gone
        }
    }

    private synchronized void exited(int status) {
        if (closed) {
            return;
        }
        boolean wasLive = device.liveCount() > liveCountAtLaunch;
        failuresInARow = wasLive ? 0 : failuresInARow + 1;
        if (failuresInARow > limit) {
            log.error("ublk LUN {}: the driver exited {} times in a row without getting the device LIVE; "
                    + "not restarting it (start one by hand, or reload)", lun, failuresInARow);
            return;
        }
        long wait = backoff.toMillis() << Math.min(failuresInARow, 10);
        log.warn("ublk LUN {}: the driver exited with status {}; starting a new one in {} ms", lun, status, wait);
        restarts++;
        scheduler.schedule(this::launch, wait, TimeUnit.MILLISECONDS);
    }

    @Override
    public synchronized void close() {
        closed = true;
        scheduler.shutdownNow();
        if (process != null && process.isAlive()) {
            process.destroy();
            try {
                if (!process.waitFor(5, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                process.destroyForcibly();
            }
        }
    }
}
