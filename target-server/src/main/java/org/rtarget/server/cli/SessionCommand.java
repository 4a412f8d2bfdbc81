package org.rtarget.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** The running server's sessions: list them with their negotiated parameters, drop one. */
@Command(name = "session", description = "List or drop the running server's iSCSI sessions.",
        subcommands = {SessionCommand.ListSessions.class, SessionCommand.Drop.class})
final class SessionCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(), "a session action is required");
    }

    /** Every session with what it negotiated at login. */
    @Command(name = "list", description = "List the sessions with their negotiated parameters.")
    static final class ListSessions implements Callable<Integer> {
        @Mixin
        AdminOptions admin;

        @Option(names = "--json", description = "print the admin API's JSON")
        boolean json;

        @Override
        public Integer call() throws Exception {
            JsonNode sessions;
            try {
                sessions = admin.client().get("/api/status").path("sessions");
            } catch (AdminClient.AdminException e) {
                System.err.println("iscsi-target: " + e.getMessage());
                return 1;
            }
            if (json) {
                System.out.println(sessions.toPrettyString());
                return 0;
            }
            Table table = new Table("TSIH", "INITIATOR", "TARGET", "PEER", "IN FLIGHT", "DIGESTS (H/D)",
                    "MAXRECV", "MAXBURST", "FIRSTBURST", "IMMEDIATE", "INITIALR2T");
            for (JsonNode s : sessions) {
                JsonNode p = s.path("parameters");
                table.row(s.path("tsih").asText(), s.path("initiator").asText(), s.path("target").asText(),
                        s.path("peer").asText(), s.path("commandsInFlight").asText(),
                        p.path("HeaderDigest").asText() + "/" + p.path("DataDigest").asText(),
                        p.path("MaxRecvDataSegmentLength").asText(), p.path("MaxBurstLength").asText(),
                        p.path("FirstBurstLength").asText(), yesNo(p.path("ImmediateData")),
                        yesNo(p.path("InitialR2T")));
            }
            System.out.print(table.isEmpty() ? "no sessions\n" : table.toString());
            return 0;
        }

        private static String yesNo(JsonNode b) {
            return b.asBoolean() ? "Yes" : "No";
        }
    }

    /** Closes one session's connection; the initiator sees a network failure. */
    @Command(name = "drop", description = {"Drop a session (by its TSIH, see `session list`): its connection is "
            + "closed and its commands are aborted.",
            "An initiator still configured for the target logs in again; change its ACL and reload first to keep it out."})
    static final class Drop implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "TSIH", description = "the session's TSIH")
        int tsih;

        @Mixin
        AdminOptions admin;

        @Override
        public Integer call() throws Exception {
            try {
                JsonNode r = admin.client().post("/api/sessions/" + tsih + "/drop");
                if (!r.path("dropped").asBoolean()) {
                    System.err.printf("iscsi-target: session %d (%s) was told to close but is still there%n", tsih,
                            r.path("initiator").asText());
                    return 1;
                }
                System.out.printf("session %d (%s on %s): dropped%n", tsih, r.path("initiator").asText(),
                        r.path("target").asText());
                return 0;
            } catch (AdminClient.AdminException e) {
                System.err.println("iscsi-target: session " + tsih + ": " + e.getMessage());
                return 1;
            }
        }
    }
}
