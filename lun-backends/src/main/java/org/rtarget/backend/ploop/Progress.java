package org.rtarget.backend.ploop;

/** Progress of a long operation on an image (a merge): clusters done of the total known so far. */
@FunctionalInterface
public interface Progress {

    /**
     * Called as the work advances, from the thread doing it. {@code total} can grow while a live
     * merge runs: clusters written during a pass are copied again in the next one.
     */
    void update(long clustersDone, long clustersTotal);

    Progress NONE = (done, total) -> { };
}
