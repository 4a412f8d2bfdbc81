package org.rtarget.server;

import java.io.IOException;
import java.util.concurrent.Executor;
import org.rtarget.backend.BlockDevice;
import org.rtarget.backend.file.FileDevice;
import org.rtarget.backend.memory.MemoryDevice;
import org.rtarget.config.LunConfig;

/** Opens the block device a LUN's configuration describes. */
final class BackendFactory {
    private final Executor ioExecutor;

    BackendFactory(Executor ioExecutor) {
        this.ioExecutor = ioExecutor;
    }

    /**
     * @throws IOException with a message naming the image and what is wrong with it
     * @throws UnsupportedOperationException for a backend this version cannot serve yet
     */
    BlockDevice open(LunConfig lun) throws IOException {
        return switch (lun.backend()) {
            case MEMORY -> new MemoryDevice(lun.size(), lun.blockSize());
            case FILE -> FileDevice.open(lun.path(), lun.size(), lun.blockSize(), lun.readOnly(), ioExecutor);
            case PLOOP, UBLK -> throw new UnsupportedOperationException(
                    "the " + lun.backend().yamlName() + " backend is not implemented yet");
        };
    }
}
