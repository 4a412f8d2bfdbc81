package org.rtarget.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Asks the running server to re-read its configuration and apply only what changed. */
@Command(name = "reload", description = "Re-read the running server's configuration and apply what changed "
        + "(an invalid file changes nothing). SIGHUP does the same.")
final class ReloadCommand implements Callable<Integer> {
    @Mixin
    AdminOptions admin;

    @Option(names = "--json", description = "print the admin API's JSON")
    boolean json;

    @Override
    public Integer call() throws Exception {
        JsonNode r;
        try {
            r = admin.client().postForJson("/api/reload");
        } catch (AdminClient.AdminException e) {
            System.err.println("iscsi-target: " + e.getMessage());
            return 1;
        }
        if (json) {
            System.out.println(r.toPrettyString());
        } else {
            JsonNode changes = r.path("changes");
            System.out.println(changes.isEmpty() ? "no changes" : "applied:");
            changes.forEach(c -> System.out.println("  " + c.asText()));
            r.path("notApplied").forEach(c -> System.out.println("  not applied: " + c.asText()));
            r.path("errors").forEach(c -> System.err.println(c.asText()));
        }
        return r.path("errors").isEmpty() ? 0 : 1;
    }
}
