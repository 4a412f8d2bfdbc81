package org.rtarget.server.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.rtarget.backend.file.FileDevice;
import org.rtarget.backend.ploop.PloopDevice;
import org.rtarget.backend.ublk.UblkDriver;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** The reference user-space driver of a ublk LUN (docs/ublk-protocol.md), serving an image file or a ploop chain. */
@Command(name = "ublk-driver",
        description = "Serve a ublk LUN of a running target from an image file or a ploop chain (a separate process; "
                + "the target's supervisor starts it with --socket appended).")
final class UblkDriverCommand implements Callable<Integer> {

    @Option(names = "--socket", required = true, paramLabel = "PATH", description = "the LUN's socket (<state-dir>/ublk/<lun>.sock)")
    Path socket;

    /** What the driver serves: an image file or a ploop chain. */
    static final class Backing {
        @Option(names = "--file", required = true, paramLabel = "IMG", description = "serve an image file (created sparse if missing)")
        Path file;

        @Option(names = "--ploop", required = true, paramLabel = "DELTA", split = ",",
                description = "serve a ploop chain: its deltas base first, the top one written to "
                        + "(comma-separated or repeated)")
        List<Path> ploop;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Backing backing;

    @Option(names = "--io-threads", paramLabel = "N", defaultValue = "8", description = "threads doing the image I/O (default 8)")
    int ioThreads;

    @Option(names = "--crash-after", paramLabel = "N", defaultValue = "0",
            description = "for tests: die like a crashing driver on the Nth request")
    long crashAfter;

    @Option(names = "--crash-random", paramLabel = "P", defaultValue = "0",
            description = "for tests: die like a crashing driver with probability P on each request")
    double crashRandom;

    @Option(names = "--crash-when-exists", paramLabel = "FILE",
            description = "for tests: die like a crashing driver on the first request after FILE appears")
    Path crashFile;

    @Override
    public Integer call() throws Exception {
        ExecutorService io = Executors.newFixedThreadPool(ioThreads, r -> {
            Thread t = new Thread(r, "ublk-driver-io");
            t.setDaemon(true);
            return t;
        });
        try {
            UblkDriver.BackingOpener opener = backing.file != null
                    ? (size, blockSize) -> FileDevice.open(backing.file, size, blockSize, false, io)
                    : (size, blockSize) -> PloopDevice.open(backing.ploop, false, io);
            return UblkDriver.run(socket, opener, new UblkDriver.CrashSwitch(crashAfter, crashRandom, crashFile),
                    System.out);
        } finally {
            io.shutdownNow();
        }
    }
}
