package org.rtarget.server.admin;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.rtarget.config.HostPort;
import org.rtarget.server.TargetServer;
import org.rtarget.server.iscsi.IscsiSession;
import org.rtarget.server.iscsi.IscsiTarget;
import org.rtarget.server.scsi.LogicalUnit;

/**
 * The admin API's routes, independent of HTTP plumbing: each request is a method, a path, query
 * parameters and a body, and gets a status, a content type and a body.
 */
public final class AdminApi {
    private static final ObjectMapper JSON = new ObjectMapper();
    // Numbers are at most 9 digits so that they always parse as an int.
    private static final Pattern RECOVER = Pattern.compile("/api/targets/([^/]+)/luns/(\\d{1,9})/recover");
    private static final Pattern PLOOP = Pattern.compile("/api/targets/([^/]+)/luns/(\\d{1,9})/ploop/([a-z-]+)");
    private static final Pattern DROP_SESSION = Pattern.compile("/api/sessions/(\\d{1,9})/drop");
    /** How long a drop waits for the session to be gone before it answers. */
    private static final long DROP_WAIT_MILLIS = 5_000;

    /** One HTTP answer. */
    public record Reply(int status, String contentType, String body) {
        static Reply json(int status, ObjectNode node) {
            return new Reply(status, "application/json", node.toPrettyString() + "\n");
        }

        static Reply error(int status, String message) {
            ObjectNode node = JSON.createObjectNode();
            node.put("error", message);
            return json(status, node);
        }
    }

    private final TargetServer server;

    public AdminApi(TargetServer server) {
        this.server = server;
    }

    public Reply handle(String method, String path, Map<String, List<String>> query, String body) {
        Matcher ploopPath = PLOOP.matcher(path);
        if (ploopPath.matches()) {
            return ploop(method, ploopPath.group(1), Integer.parseInt(ploopPath.group(2)), ploopPath.group(3),
                    query.containsKey("image") ? Path.of(query.get("image").getFirst()) : null);
        }
        if (method.equals("GET")) {
            return switch (path) {
                case "/metrics" -> new Reply(200, "text/plain; version=0.0.4; charset=utf-8", server.metrics().scrape());
                case "/api/status", "/api", "/" -> Reply.json(200, status());
                case "/healthz" -> new Reply(200, "text/plain", "ok\n");
                default -> Reply.error(404, "no such resource: " + path);
            };
        }
        if (method.equals("POST")) {
            if (path.equals("/api/reload")) {
                return reload();
            }
            Matcher m = RECOVER.matcher(path);
            if (m.matches()) {
                String image = query.containsKey("image") ? query.get("image").getFirst() : null;
                return recover(m.group(1), Integer.parseInt(m.group(2)), image);
            }
            Matcher drop = DROP_SESSION.matcher(path);
            if (drop.matches()) {
                return dropSession(Integer.parseInt(drop.group(1)));
            }
            return Reply.error(404, "no such action: " + path);
        }
        return Reply.error(405, "method " + method + " not allowed");
    }

    private Reply ploop(String method, String iqn, int lun, String action, Path image) {
        var ops = server.ploop();
        if (method.equals("GET") && action.equals("merge")) {
            var p = ops.mergeProgress(iqn, lun);
            ObjectNode node = JSON.createObjectNode();
            node.put("done", p == null ? 0 : p.done());
            node.put("total", p == null ? 0 : p.total());
            node.put("running", p != null && p.running());
            return Reply.json(200, node);
        }
        if (!method.equals("POST")) {
            return Reply.error(405, "method " + method + " not allowed");
        }
        var result = switch (action) {
            case "snapshot" -> ops.snapshot(iqn, lun, image);
            case "merge" -> ops.merge(iqn, lun);
            case "replace-delta" -> image == null ? null : ops.replaceDelta(iqn, lun, image);
            case "reload" -> ops.reloadTable(iqn, lun);
            default -> null;
        };
        if (result == null) {
            return Reply.error(400, action.equals("replace-delta") ? "replace-delta needs ?image=PATH"
                    : "no ploop action " + action);
        }
        ObjectNode node = JSON.createObjectNode();
        node.put("target", iqn);
        node.put("lun", lun);
        if (result.error() != null) {
            node.put("error", result.error());
            return Reply.json(result.notFound() ? 404 : 409, node);
        }
        node.put("name", result.unit().name());
        node.put("standby", result.unit().gate().state());
        result.chain().forEach(p -> node.withArray("deltas").add(p.toString()));
        return Reply.json(200, node);
    }

    private Reply reload() {
        org.rtarget.server.ConfigReload.Result r = server.reload();
        ObjectNode node = JSON.createObjectNode();
        r.changes().forEach(node.putArray("changes")::add);
        r.notApplied().forEach(node.putArray("notApplied")::add);
        r.errors().forEach(node.putArray("errors")::add);
        return Reply.json(r.ok() ? 200 : 422, node);
    }

    private Reply recover(String iqn, int lun, String image) {
        TargetServer.RecoverResult result = server.recover(iqn, lun, image == null ? null : Path.of(image));
        ObjectNode node = JSON.createObjectNode();
        node.put("target", iqn);
        node.put("lun", lun);
        if (result.error() != null) {
            node.put("error", result.error());
            return Reply.json(result.notFound() ? 404 : 409, node);
        }
        node.put("name", result.unit().name());
        node.put("standby", result.unit().gate().state());
        return Reply.json(200, node);
    }

    /**
     * Closes a session's connection, as a network failure would: its commands are aborted and an
     * initiator that still has the target configured logs in again (an ACL change plus a reload
     * keeps it out). Answers once the session is gone, so that a status right after no longer
     * lists it. Runs on the admin action thread, where waiting is allowed.
     */
    private Reply dropSession(int tsih) {
        IscsiSession session = server.sessions().byTsih(tsih);
        if (session == null) {
            return Reply.error(404, "no session with TSIH " + tsih);
        }
        session.connection().close("session " + tsih + " dropped by the operator (admin API)");
        long deadline = System.nanoTime() + DROP_WAIT_MILLIS * 1_000_000;
        while (server.sessions().byTsih(tsih) == session && System.nanoTime() < deadline) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        ObjectNode node = JSON.createObjectNode();
        node.put("tsih", tsih);
        node.put("initiator", session.initiatorName());
        node.put("target", session.discovery() ? "(discovery)" : session.target().iqn());
        node.put("dropped", server.sessions().byTsih(tsih) != session);
        return Reply.json(200, node);
    }

    /** The whole picture: server, targets with their LUNs, sessions. */
    public ObjectNode status() {
        ObjectNode root = JSON.createObjectNode();
        ObjectNode srv = root.putObject("server");
        ArrayNode portals = srv.putArray("portals");
        for (HostPort p : server.directory().portals()) {
            portals.add(p.toString());
        }
        srv.put("standbyCheck", server.standbyKey().on());
        ArrayNode targets = root.putArray("targets");
        for (IscsiTarget t : server.directory().all()) {
            ObjectNode tn = targets.addObject();
            tn.put("iqn", t.iqn());
            if (t.alias() != null) {
                tn.put("alias", t.alias());
            }
            tn.put("queueDepth", t.queueDepth());
            ArrayNode luns = tn.putArray("luns");
            for (Map.Entry<Integer, LogicalUnit> e : t.luns().entrySet()) {
                LogicalUnit lu = e.getValue();
                ObjectNode ln = luns.addObject();
                ln.put("lun", e.getKey());
                ln.put("name", lu.name());
                ln.put("backend", lu.device().kind());
                ln.put("size", lu.device().size());
                ln.put("blockSize", lu.blockSize());
                ln.put("readOnly", lu.readOnly());
                ln.put("wwn", lu.identity().wwn());
                ln.put("serial", lu.identity().serial());
                ln.put("standby", lu.gate().state());
                ln.put("inFlight", lu.gate().inFlight());
                ln.put("writebackErrors", lu.gate().writebackErrors());
                lu.device().describe().forEach((key, value) -> {
                    if (value instanceof java.util.List<?> list) {
                        list.forEach(item -> ln.withArray(key).add(String.valueOf(item)));
                    } else if (value instanceof Number n) {
                        ln.put(key, n.longValue());
                    } else {
                        ln.put(key, String.valueOf(value));
                    }
                });
                ln.put("sessions", lu.nexusCount());
                LogicalUnit.LunCounters c = lu.counters();
                ln.put("readCommands", c.readCommands.sum());
                ln.put("writeCommands", c.writeCommands.sum());
                ln.put("bytesRead", c.bytesRead.sum());
                ln.put("bytesWritten", c.bytesWritten.sum());
                ln.put("errors", c.errors.sum());
            }
        }
        ArrayNode sessions = root.putArray("sessions");
        for (IscsiSession s : server.sessions().all()) {
            ObjectNode sn = sessions.addObject();
            sn.put("tsih", s.tsih());
            sn.put("initiator", s.initiatorName());
            sn.put("isid", String.format("0x%012x", s.isid()));
            sn.put("target", s.discovery() ? "(discovery)" : s.target().iqn());
            sn.put("peer", s.connection().peer());
            sn.put("commandsInFlight", s.outstandingCommands());
            var p = s.params();
            ObjectNode pn = sn.putObject("parameters");
            pn.put("HeaderDigest", p.headerDigest() ? "CRC32C" : "None");
            pn.put("DataDigest", p.dataDigest() ? "CRC32C" : "None");
            pn.put("MaxRecvDataSegmentLength", p.initiatorMaxRecvDataSegmentLength());
            pn.put("MaxBurstLength", p.maxBurstLength());
            pn.put("FirstBurstLength", p.firstBurstLength());
            pn.put("ImmediateData", p.immediateData());
            pn.put("InitialR2T", p.initialR2T());
            pn.put("MaxOutstandingR2T", p.maxOutstandingR2T());
        }
        return root;
    }
}
