package org.rtarget.config;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * One logical unit of a target.
 *
 * @param lun        LUN number, 0..16383
 * @param name       unique across the whole config: names state files, derives NAA id and serial
 * @param backend    where the blocks live
 * @param path       image file ({@code file} backend only), absolute or against the config's directory; else null
 * @param size       bytes; 0 when not given (ploop, or a file backend that takes the file's size)
 * @param blockSize  512 or 4096
 * @param readOnly   {@code read-only}: writes are refused
 * @param writeCache {@code write-cache}: the WCE bit reported to initiators
 * @param deltas     ploop image chain, base first, writable top last; empty for other backends
 * @param driver     the user-space driver ({@code ublk} backend only); else null
 * @param standby    how the LUN behaves while storage recovers
 * @param ioThreads  {@code io-threads}: how many of its requests may be at the storage at once
 *                   (file and ploop backends: each LUN has its own, so a hung mount under one
 *                   LUN holds up no other)
 */
public record LunConfig(int lun, String name, BackendType backend, Path path, long size, int blockSize,
                        boolean readOnly, boolean writeCache, List<Path> deltas, DriverConfig driver,
                        StandbyConfig standby, int ioThreads) {

    public static final int MAX_LUN = 16383;
    public static final int DEFAULT_BLOCK_SIZE = 512;
    public static final int DEFAULT_IO_THREADS = 16;

    public LunConfig {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(backend, "backend");
        deltas = List.copyOf(deltas);
        Objects.requireNonNull(standby, "standby");
    }

    /** A LUN with the default number of I/O threads. */
    public LunConfig(int lun, String name, BackendType backend, Path path, long size, int blockSize,
                     boolean readOnly, boolean writeCache, List<Path> deltas, DriverConfig driver,
                     StandbyConfig standby) {
        this(lun, name, backend, path, size, blockSize, readOnly, writeCache, deltas, driver, standby,
                DEFAULT_IO_THREADS);
    }

    /** True when the config gave a size (a file backend may leave it to the image). */
    public boolean hasSize() {
        return size > 0;
    }
}
