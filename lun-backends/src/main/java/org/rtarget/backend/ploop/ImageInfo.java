package org.rtarget.backend.ploop;

import java.nio.file.Path;

/**
 * What {@link PloopImage#info} reads from an image without opening it as a device.
 *
 * @param batEntries virtual clusters (BAT entries)
 * @param allocatedClusters BAT entries that name a data cluster in this image
 * @param inUse whether the in-use mark is set: open read-write now, or not closed cleanly
 * @param fileSize bytes the file takes (its length, holes included)
 */
public record ImageInfo(
        Path path,
        FormatVersion version,
        int clusterBytes,
        long virtualSize,
        long batEntries,
        long allocatedClusters,
        boolean inUse,
        long fileSize) {
}
