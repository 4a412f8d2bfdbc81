package org.rtarget.server.fuzz;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.core.AppenderBase;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.LoggerFactory;

/**
 * What every fuzz property watches besides its own assertions: Netty's paranoid leak detector and
 * the log (an internal error, an ERROR line, a LEAK report fail the property), a watchdog against
 * hangs, and an allocator that counts every byte a try still holds.
 */
final class Guards implements AutoCloseable {
    /** Loggers whose output the fuzzers take over (the WARN lines of refused input would flood the console). */
    private static final String[] LOGGERS = {"org.rtarget", "io.netty"};

    private final Capture capture = new Capture();
    private final List<Logger> loggers = new ArrayList<>();
    private final List<Level> levels = new ArrayList<>();
    private final List<Boolean> additive = new ArrayList<>();
    private final ResourceLeakDetector.Level leakLevel = ResourceLeakDetector.getLevel();
    private final ExecutorService watchdog = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "fuzz-try");
        t.setDaemon(true);
        return t;
    });
    private final AtomicReference<Thread> worker = new AtomicReference<>();

    Guards() {
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
        capture.setContext((ch.qos.logback.classic.LoggerContext) LoggerFactory.getILoggerFactory());
        capture.start();
        for (String name : LOGGERS) {
            Logger l = (Logger) LoggerFactory.getLogger(name);
            loggers.add(l);
            levels.add(l.getLevel());
            additive.add(l.isAdditive());
            l.setAdditive(false);
            l.setLevel(Level.WARN);
            l.addAppender(capture);
        }
        // The leak detector logs under its own name, below io.netty: make sure ERROR reaches us.
        ((Logger) LoggerFactory.getLogger(ResourceLeakDetector.class)).setLevel(Level.ERROR);
    }

    /** Runs one try on the watchdog thread: a hang fails with the stack where it hangs. */
    <T> T run(Duration limit, Callable<T> body) throws Exception {
        Future<T> f = watchdog.submit(() -> {
            worker.set(Thread.currentThread());
            return body.call();
        });
        try {
            return f.get(limit.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof Exception ex) {
                throw ex;
            }
            if (cause instanceof Error err) {
                throw err;
            }
            throw e;
        } catch (TimeoutException e) {
            Thread t = worker.get();
            StackTraceElement[] stack = t == null ? new StackTraceElement[0] : t.getStackTrace();
            f.cancel(true);
            throw new AssertionError("try still running after " + limit + " (hang?) at\n  "
                    + String.join("\n  ", Arrays.stream(stack).limit(40).map(String::valueOf).toList()));
        }
    }

    /** Fails if anything suspicious was logged since the last call (and forgets it). */
    void assertQuiet(String context) {
        List<String> bad = capture.take();
        if (!bad.isEmpty()) {
            throw new AssertionError(context + ": suspicious log lines:\n" + String.join("\n", bad));
        }
    }

    /**
     * Lets the leak detector see buffers that were dropped without release: collects garbage and
     * allocates tracked buffers (the detector reports when it tracks a new one), then checks the log.
     */
    void assertNoLeakReported(String context) {
        for (int i = 0; i < 3; i++) {
            System.gc();
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            for (int k = 0; k < 64; k++) {
                ByteBufAllocator.DEFAULT.directBuffer(16).release();
                ByteBufAllocator.DEFAULT.heapBuffer(16).release();
            }
        }
        assertQuiet(context);
    }

    @Override
    public void close() {
        watchdog.shutdownNow();
        for (int i = 0; i < loggers.size(); i++) {
            Logger l = loggers.get(i);
            l.detachAppender(capture);
            l.setLevel(levels.get(i));
            l.setAdditive(additive.get(i));
        }
        capture.stop();
        ResourceLeakDetector.setLevel(leakLevel);
    }

    /** A fresh allocator per try whose metrics say exactly what the try still holds (direct buffers leak-tracked). */
    static UnpooledByteBufAllocator countingAllocator() {
        return new UnpooledByteBufAllocator(true, false);
    }

    static long used(UnpooledByteBufAllocator alloc) {
        return alloc.metric().usedDirectMemory() + alloc.metric().usedHeapMemory();
    }

    static void releaseAll(List<?> messages) {
        for (Object m : messages) {
            if (m instanceof io.netty.util.ReferenceCounted rc && rc.refCnt() > 0) {
                rc.release(rc.refCnt());
            }
        }
    }

    static void release(ByteBuf b) {
        if (b != null && b.refCnt() > 0) {
            b.release();
        }
    }

    /** Keeps the log events a fuzzer must not produce. */
    private static final class Capture extends AppenderBase<ILoggingEvent> {
        private final List<String> events = new ArrayList<>();

        @Override
        protected synchronized void append(ILoggingEvent e) {
            boolean leak = e.getLoggerName().contains("ResourceLeakDetector");
            boolean internal = e.getFormattedMessage().contains("internal error");
            if (e.getLevel().isGreaterOrEqual(Level.ERROR) || e.getThrowableProxy() != null || leak || internal) {
                StringBuilder b = new StringBuilder(e.getLevel() + " " + e.getLoggerName() + ": " + e.getFormattedMessage());
                for (IThrowableProxy t = e.getThrowableProxy(); t != null; t = t.getCause()) {
                    b.append("\n  caused by ").append(t.getClassName()).append(": ").append(t.getMessage());
                    var frames = t.getStackTraceElementProxyArray();
                    for (int i = 0; i < Math.min(12, frames.length); i++) {
                        b.append("\n    ").append(frames[i].getSTEAsString());
                    }
                }
                events.add(b.toString());
            }
        }

        synchronized List<String> take() {
            List<String> out = List.copyOf(events);
            events.clear();
            return out;
        }
    }
}
