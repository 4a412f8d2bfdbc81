package org.rtarget.it;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Write+verify through raw iSCSI sessions, counting exactly what the initiators were told: each
 * worker owns a range of blocks, writes random data, reads blocks back and compares them with what
 * was acknowledged, and flushes now and then. BUSY and TASK SET FULL are retried (what initiators
 * do); a CHECK CONDITION is counted and makes that block's content unknown; a mismatch is a block
 * that does not hold what its last acknowledged write put there.
 */
final class VerifyingWorkload implements AutoCloseable {
    private static final int BLOCK = 512;
    private static final int BLOCKS_PER_IO = 8;
    private static final int SLOTS = 256;

    final AtomicLong good = new AtomicLong();
    final AtomicLong busy = new AtomicLong();
    final AtomicLong checkConditions = new AtomicLong();
    final AtomicLong mismatches = new AtomicLong();
    final AtomicLong verified = new AtomicLong();
    final AtomicLong longestBusyMillis = new AtomicLong();
    private final List<String> problems = java.util.Collections.synchronizedList(new ArrayList<>());
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final List<Thread> workers = new ArrayList<>();

    VerifyingWorkload(int port, String iqn, int lun, int sessions) {
        for (int w = 0; w < sessions; w++) {
            int worker = w;
            workers.add(Thread.ofPlatform().name("workload-" + w).start(() -> run(port, iqn, lun, worker)));
        }
    }

    private void run(int port, String iqn, int lun, int worker) {
        Random random = new Random(worker);
        Map<Integer, byte[]> acknowledged = new HashMap<>();
        long base = (long) worker * SLOTS * BLOCKS_PER_IO;
        try (RawInitiator raw = RawInitiator.login(port, "iqn.2026-12.org.rtarget.test:longrun-" + worker, iqn)) {
            raw.answerTimeout(120); // outlasts any stall of the run
            for (long op = 0; running.get(); op++) {
                int slot = random.nextInt(SLOTS);
                long lba = base + (long) slot * BLOCKS_PER_IO;
                if (op % 50 == 49) {
                    answer(raw, "flush", () -> raw.synchronizeCache(lun));
                } else if (op % 3 == 2 && acknowledged.containsKey(slot)) {
                    RawInitiator.Response r = answer(raw, "read", () -> raw.read10(lun, lba, BLOCKS_PER_IO, BLOCK));
                    if (r != null && r.status() == 0) {
                        verified.incrementAndGet();
                        if (!java.util.Arrays.equals(r.data(), acknowledged.get(slot))) {
                            mismatches.incrementAndGet();
                            problems.add("worker " + worker + ": LBA " + lba + " does not hold its last acknowledged write");
                        }
                    }
                } else {
                    byte[] data = new byte[BLOCKS_PER_IO * BLOCK];
                    random.nextBytes(data);
                    acknowledged.remove(slot); // until acknowledged, old or new may be there
                    RawInitiator.Response r = answer(raw, "write", () -> raw.write10(lun, lba, data, BLOCK));
                    if (r != null && r.status() == 0) {
                        acknowledged.put(slot, data);
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            problems.add("worker " + worker + ": " + e);
        }
    }

    @FunctionalInterface
    private interface Command {
        RawInitiator.Response run() throws IOException;
    }

    /** Runs a command until it is not BUSY / TASK SET FULL; null if the workload stops meanwhile. */
    private RawInitiator.Response answer(RawInitiator raw, String what, Command command) throws IOException {
        long busySince = 0;
        while (running.get()) {
            RawInitiator.Response r = command.run();
            if (r.status() == 0x08 || r.status() == 0x28) {
                busy.incrementAndGet();
                if (busySince == 0) {
                    busySince = System.nanoTime();
                }
                sleepQuietly(5);
                continue;
            }
            if (busySince != 0) {
                longestBusyMillis.accumulateAndGet((System.nanoTime() - busySince) / 1_000_000, Math::max);
            }
            if (r.status() == 0) {
                good.incrementAndGet();
            } else {
                checkConditions.incrementAndGet();
                problems.add(String.format("%s: status 0x%02x sense %X/%02X/%02X", what, r.status(), r.senseKey(),
                        r.asc(), r.ascq()));
            }
            return r;
        }
        return null;
    }

    private static void sleepQuietly(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    List<String> problems() {
        synchronized (problems) {
            return List.copyOf(problems);
        }
    }

    String summary() {
        return String.format("%d GOOD, %d BUSY/TASK SET FULL retried (longest %d ms), %d reads verified, "
                + "%d CHECK CONDITION, %d mismatches", good.get(), busy.get(), longestBusyMillis.get(), verified.get(),
                checkConditions.get(), mismatches.get());
    }

    @Override
    public void close() throws InterruptedException {
        running.set(false);
        for (Thread t : workers) {
            t.join(120_000);
        }
    }
}
