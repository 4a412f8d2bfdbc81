package org.rtarget.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Shows a running server's targets, LUNs (with their standby state) and sessions. */
@Command(name = "status", description = "Show the running server's targets, LUNs and sessions.")
final class StatusCommand implements Callable<Integer> {
    @Mixin
    AdminOptions admin;

    @Option(names = "--json", description = "print the admin API's JSON")
    boolean json;

    @Override
    public Integer call() throws Exception {
        JsonNode status;
        try {
            status = admin.client().get("/api/status");
        } catch (AdminClient.AdminException e) {
            System.err.println("iscsi-target: " + e.getMessage());
            return 1;
        }
        if (json) {
            System.out.println(status.toPrettyString());
            return 0;
        }
        Table luns = new Table("TARGET", "LUN", "NAME", "BACKEND", "SIZE", "STANDBY", "SESSIONS", "READS", "WRITES",
                "ERRORS");
        for (JsonNode t : status.path("targets")) {
            for (JsonNode l : t.path("luns")) {
                luns.row(t.path("iqn").asText(), l.path("lun").asText(), l.path("name").asText(),
                        l.path("backend").asText(), Table.size(l.path("size").asLong()), l.path("standby").asText(),
                        l.path("sessions").asText(), l.path("readCommands").asText(), l.path("writeCommands").asText(),
                        l.path("errors").asText());
            }
        }
        System.out.print(luns);
        Table sessions = new Table("TSIH", "INITIATOR", "ISID", "TARGET", "PEER", "IN FLIGHT");
        for (JsonNode s : status.path("sessions")) {
            sessions.row(s.path("tsih").asText(), s.path("initiator").asText(), s.path("isid").asText(),
                    s.path("target").asText(), s.path("peer").asText(), s.path("commandsInFlight").asText());
        }
        System.out.println();
        System.out.print(sessions.isEmpty() ? "no sessions\n" : sessions.toString());
        return 0;
    }
}
