package org.rtarget.server;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Executor;
import org.rtarget.backend.BlockDevice;
import org.rtarget.backend.IoLane;
import org.rtarget.backend.file.FileDevice;
import org.rtarget.backend.memory.MemoryDevice;
import org.rtarget.backend.ploop.PloopDevice;
import org.rtarget.backend.ublk.UblkDevice;
import org.rtarget.backend.ublk.UblkParams;
import org.rtarget.backend.ublk.UblkRecovery;
import org.rtarget.config.DriverConfig;
import org.rtarget.config.LunConfig;

/** Opens the block device a LUN's configuration describes. */
final class BackendFactory {
    private static final Path SHARED_MEMORY = Path.of("/dev/shm");
    private final Executor ioExecutor;
    private final Path stateDir;
    private final PloopChains ploopChains;

    BackendFactory(Executor ioExecutor, Path stateDir) {
        this.ioExecutor = ioExecutor;
        this.stateDir = stateDir;
        this.ploopChains = new PloopChains(stateDir);
    }

    /**
     * @throws IOException with a message naming the image and what is wrong with it
     * @throws UnsupportedOperationException for a backend this version cannot serve yet
     */
    BlockDevice open(LunConfig lun) throws IOException {
        return switch (lun.backend()) {
            case MEMORY -> new MemoryDevice(lun.size(), lun.blockSize());
            case FILE -> FileDevice.open(lun.path(), lun.size(), lun.blockSize(), lun.readOnly(), lane(lun));
            case UBLK -> openUblk(lun);
            case PLOOP -> openPloop(lun);
        };
    }

    /** The LUN's own share of the I/O threads: at most io-threads of its requests at once. */
    private IoLane lane(LunConfig lun) {
        return new IoLane(ioExecutor, lun.ioThreads());
    }

    PloopChains ploopChains() {
        return ploopChains;
    }

    private BlockDevice openPloop(LunConfig lun) throws IOException {
        PloopDevice device = PloopDevice.open(ploopChains.chainFor(lun.name(), lun.deltas()), lun.readOnly(), lane(lun));
        ploopChains.record(lun.name(), lun.deltas(), device.deltas());
        return device;
    }

    /** The socket a ublk LUN's driver connects to. */
    Path ublkSocket(LunConfig lun) {
        return stateDir.resolve("ublk").resolve(lun.name() + ".sock");
    }

    private BlockDevice openUblk(LunConfig lun) throws IOException {
        DriverConfig d = lun.driver();
        UblkRecovery recovery = switch (d.recovery()) {
            case NONE -> UblkRecovery.NONE;
            case QUEUE -> UblkRecovery.QUEUE;
            case REISSUE -> UblkRecovery.REISSUE;
            case FAIL_IO -> UblkRecovery.FAIL_IO;
        };
        UblkParams params = new UblkParams(lun.size(), lun.blockSize(), d.queues(), d.queueDepth(),
                UblkParams.DEFAULT_MAX_IO, recovery, d.requestTimeout());
        // Shared memory lives in tmpfs where there is one: no writeback of the data slots.
        Path dataDir = Files.isDirectory(SHARED_MEMORY) && Files.isWritable(SHARED_MEMORY) ? SHARED_MEMORY
                : stateDir.resolve("ublk");
        return UblkDevice.create(lun.name(), params, ublkSocket(lun), dataDir);
    }
}
