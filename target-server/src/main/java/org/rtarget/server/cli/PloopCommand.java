package org.rtarget.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import org.rtarget.backend.ploop.CheckReport;
import org.rtarget.backend.ploop.FormatVersion;
import org.rtarget.backend.ploop.ImageInfo;
import org.rtarget.backend.ploop.PloopHeader;
import org.rtarget.backend.ploop.PloopImage;
import org.rtarget.config.Sizes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** ploop images: offline tools, and operations on a LUN the running server exports. */
@Command(name = "ploop", description = "ploop image tools, and snapshot/merge/replace-delta/reload of exported ploop LUNs.",
        subcommands = {PloopCommand.Create.class, PloopCommand.Info.class, PloopCommand.Check.class,
                PloopCommand.Snapshot.class, PloopCommand.Merge.class, PloopCommand.ReplaceDelta.class,
                PloopCommand.Reload.class})
final class PloopCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(), "a ploop action is required");
    }

    @Command(name = "create", description = "Create an empty ploop image (v2 format).")
    static final class Create implements Callable<Integer> {
        @picocli.CommandLine.Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Parameters(paramLabel = "IMAGE")
        Path image;

        @Option(names = "--size", required = true, paramLabel = "SIZE", description = "virtual size, e.g. 10G")
        String size;

        @Option(names = "--cluster-size", paramLabel = "SIZE", defaultValue = "1M", description = "cluster size (default 1M)")
        String clusterSize;

        @Option(names = "--preallocate", description = "allocate every cluster now (the image never grows; "
                + "writes never allocate), with a progress line")
        boolean preallocate;

        @Override
        public Integer call() throws Exception {
            long bytes;
            long cluster;
            try {
                bytes = Sizes.parse(size);
                cluster = Sizes.parse(clusterSize);
            } catch (IllegalArgumentException e) {
                throw new picocli.CommandLine.ParameterException(spec.commandLine(), e.getMessage());
            }
            if (bytes <= 0 || bytes % 512 != 0 || Long.bitCount(cluster) != 1
                    || cluster < PloopHeader.MIN_CLUSTER_BYTES || cluster > PloopHeader.MAX_CLUSTER_BYTES) {
                throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                        "--size must be a positive multiple of 512 and --cluster-size a power of two from 32K to 64M");
            }
            ProgressLine line = new ProgressLine("allocating", "clusters");
            PloopImage.create(image, bytes, (int) cluster, FormatVersion.V2, preallocate, line::show);
            line.clear();
            System.out.printf("%s: ploop image of %s with %s clusters%s%n", image, Table.size(bytes),
                    Table.size(cluster), preallocate ? ", all allocated" : "");
            return 0;
        }
    }

    @Command(name = "info", description = "Show an image's header: version, cluster size, size, allocation, in-use mark.")
    static final class Info implements Callable<Integer> {
        @Parameters(paramLabel = "IMAGE")
        Path image;

        @Override
        public Integer call() throws Exception {
            ImageInfo i = PloopImage.info(image);
            System.out.printf("%s%n  format:    %s%n  cluster:   %s%n  size:      %s (%d bytes)%n"
                            + "  clusters:  %d of %d allocated%n  in use:    %s%n  file size: %s%n",
                    image, i.version(), Table.size(i.clusterBytes()), Table.size(i.virtualSize()), i.virtualSize(),
                    i.allocatedClusters(), i.batEntries(), i.inUse() ? "yes (open, or not closed cleanly)" : "no",
                    Table.size(i.fileSize()));
            return 0;
        }
    }

    @Command(name = "check", description = "Check an image's header and BAT; --repair fixes what is safe to fix.")
    static final class Check implements Callable<Integer> {
        @Parameters(paramLabel = "IMAGE")
        Path image;

        @Option(names = "--repair", description = "clear a stale in-use mark, unmap BAT entries that point nowhere")
        boolean repair;

        @Override
        public Integer call() throws Exception {
            CheckReport report = PloopImage.check(image, repair);
            System.out.println(report);
            return report.findings().stream().allMatch(CheckReport.Finding::fixed) ? 0 : 1;
        }
    }

    /** The TARGET LUN pair and the admin endpoint of online operations. */
    abstract static class Online implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "TARGET")
        String target;

        @Parameters(index = "1", paramLabel = "LUN")
        int lun;

        @Mixin
        AdminOptions admin;

        String path(String action) {
            return "/api/targets/" + AdminClient.encode(target) + "/luns/" + lun + "/ploop/" + action;
        }

        int report(String done, JsonNode r) {
            System.out.printf("%s LUN %d (%s): %s, standby %s%n  chain: %s%n", target, lun, r.path("name").asText(),
                    done, r.path("standby").asText(), r.path("deltas"));
            return 0;
        }

        int act(String action, String query, String done) throws Exception {
            try {
                return report(done, admin.client().post(path(action) + query));
            } catch (AdminClient.AdminException e) {
                System.err.println("iscsi-target: " + target + " LUN " + lun + ": " + e.getMessage());
                return 1;
            }
        }
    }

    @Command(name = "snapshot", description = "Take a snapshot of an exported ploop LUN: a new empty top delta.")
    static final class Snapshot extends Online {
        @Option(names = "--image", paramLabel = "PATH", description = "the new top delta (default: beside the current top)")
        Path image;

        @Override
        public Integer call() throws Exception {
            return act("snapshot", image == null ? "" : "?image=" + AdminClient.encode(image.toAbsolutePath().toString()),
                    "snapshot taken");
        }
    }

    @Command(name = "merge", description = "Merge the top delta of an exported ploop LUN into the one below, online.")
    static final class Merge extends Online {
        @Override
        public Integer call() throws Exception {
            AdminClient client = admin.client();
            CompletableFuture<Integer> done = CompletableFuture.supplyAsync(() -> {
                try {
                    return act("merge", "", "merged");
                } catch (Exception e) {
                    System.err.println("iscsi-target: " + e.getMessage());
                    return 1;
                }
            });
            // A progress line while the server copies clusters.
            ProgressLine line = new ProgressLine("merging", "clusters");
            while (!done.isDone()) {
                Thread.sleep(500);
                try {
                    JsonNode p = client.get(path("merge"));
                    if (p.path("running").asBoolean() && !done.isDone()) {
                        line.show(p.path("done").asLong(), p.path("total").asLong());
                    }
                } catch (AdminClient.AdminException e) {
                    // the progress line is a nicety
                }
            }
            line.clear();
            return done.get();
        }
    }

    @Command(name = "replace-delta", description = "Swap the top delta of an exported ploop LUN (the vz7 recovery): "
            + "clears standby.")
    static final class ReplaceDelta extends Online {
        @Option(names = "--image", required = true, paramLabel = "PATH", description = "the new top delta")
        Path image;

        @Override
        public Integer call() throws Exception {
            return act("replace-delta", "?image=" + AdminClient.encode(image.toAbsolutePath().toString()),
                    "top delta replaced");
        }
    }

    @Command(name = "reload", description = "Open an exported ploop LUN's chain again as a new instance under the same "
            + "identity (the vz9 recovery): clears standby.")
    static final class Reload extends Online {
        @Override
        public Integer call() throws Exception {
            return act("reload", "", "table reloaded");
        }
    }
}
