package org.rtarget.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Operations on one LUN of a running server. */
@Command(name = "lun", description = "Act on one LUN of the running server.",
        subcommands = {LunCommand.Recover.class})
final class LunCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(), "a LUN action is required");
    }

    /** The storage is back: reopen (or swap) the image and leave standby. */
    @Command(name = "recover", description = "The LUN's storage is back: reopen its image (or --image) and leave standby.")
    static final class Recover implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "TARGET", description = "the target's iqn")
        String target;

        @Parameters(index = "1", paramLabel = "LUN", description = "the LUN number")
        int lun;

        @Option(names = "--image", paramLabel = "PATH", description = "serve this image from now on (default: reopen the same path)")
        Path image;

        @Mixin
        AdminOptions admin;

        @Override
        public Integer call() throws Exception {
            String path = "/api/targets/" + AdminClient.encode(target) + "/luns/" + lun + "/recover"
                    + (image == null ? "" : "?image=" + AdminClient.encode(image.toAbsolutePath().toString()));
            try {
                JsonNode r = admin.client().post(path);
                System.out.printf("%s LUN %d (%s): recovered, standby %s%n", target, lun, r.path("name").asText(),
                        r.path("standby").asText());
                return 0;
            } catch (AdminClient.AdminException e) {
                System.err.println("iscsi-target: " + target + " LUN " + lun + ": " + e.getMessage());
                return 1;
            }
        }
    }
}
