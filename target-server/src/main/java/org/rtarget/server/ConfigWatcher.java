package org.rtarget.server;

import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reloads the configuration when its file changes ({@code serve --watch}). The directory is
 * watched rather than the file, because editors and configuration managers replace files by
 * renaming (and Kubernetes swaps a symlink); after an event on the file, once it has been quiet
 * for the debounce time (at most {@link #MAX_WAIT}), its content is compared with what was last
 * seen and a reload runs only if it differs. A half-written file is simply refused by the
 * reload, and the next write triggers another one.
 */
public final class ConfigWatcher implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ConfigWatcher.class);
    public static final Duration DEFAULT_DEBOUNCE = Duration.ofMillis(500);
    /** A file rewritten without pause still reloads this long after its first change. */
    private static final Duration MAX_WAIT = Duration.ofSeconds(5);

    private final Path file;
    private final Runnable reload;
    private final Duration debounce;
    private final WatchService watcher;
    private final Thread thread;
    private byte[] lastSeen;

    private ConfigWatcher(Path file, Runnable reload, Duration debounce) throws IOException {
        this.file = file.toAbsolutePath();
        this.reload = reload;
        this.debounce = debounce;
        this.lastSeen = digest();
        this.watcher = FileSystems.getDefault().newWatchService();
        this.file.getParent().register(watcher, StandardWatchEventKinds.ENTRY_CREATE,
                StandardWatchEventKinds.ENTRY_MODIFY, StandardWatchEventKinds.ENTRY_DELETE);
        this.thread = Thread.ofPlatform().daemon().name("rtarget-config-watch").unstarted(this::run);
    }

    /** Starts watching {@code file}; {@code reload} runs on the watcher's thread after each change. */
    public static ConfigWatcher start(Path file, Runnable reload, Duration debounce) throws IOException {
        ConfigWatcher w = new ConfigWatcher(file, reload, debounce);
        w.thread.start();
        log.info("watching {} for changes (reload {} ms after the last one)", w.file, debounce.toMillis());
        return w;
    }

    private void run() {
        try {
            while (true) {
                if (!concernsFile(watcher.take())) {
                    continue; // an image or a log beside the configuration
                }
                // Debounce: an editor's save is several events; wait until they stop (events on
                // other files do not count), but never longer than MAX_WAIT.
                long now = System.nanoTime();
                long deadline = now + MAX_WAIT.toNanos();
                long quietAt = now + debounce.toNanos();
                for (long wait; (wait = Math.min(quietAt, deadline) - System.nanoTime()) > 0; ) {
                    WatchKey more = watcher.poll(wait, TimeUnit.NANOSECONDS);
                    if (more != null && concernsFile(more)) {
                        quietAt = System.nanoTime() + debounce.toNanos();
                    }
                }
                byte[] content = digest();
                if (content == null || Arrays.equals(content, lastSeen)) {
                    continue; // touched or saved unchanged, or gone for a moment
                }
                lastSeen = content;
                log.info("{} changed: reloading", file);
                try {
                    reload.run();
                } catch (RuntimeException e) {
                    log.error("reload after a change of {} failed", file, e);
                }
            }
        } catch (InterruptedException | ClosedWatchServiceException e) {
            // closed
        }
    }

    /**
     * Takes a key's events; whether one names the configuration file, or a "..name" entry (the
     * link a Kubernetes ConfigMap swaps under it), or events were lost.
     */
    private boolean concernsFile(WatchKey key) {
        boolean ours = false;
        for (WatchEvent<?> event : key.pollEvents()) {
            ours |= event.kind() == StandardWatchEventKinds.OVERFLOW
                    || event.context() instanceof Path name
                    && (name.equals(file.getFileName()) || name.toString().startsWith(".."));
        }
        key.reset();
        return ours;
    }

    /** SHA-256 of the file's content, or null if it cannot be read right now. */
    private byte[] digest() {
        try {
            return MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file));
        } catch (IOException e) {
            return null;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        try {
            watcher.close();
        } catch (IOException e) {
            // nothing to do
        }
        thread.interrupt();
    }
}
