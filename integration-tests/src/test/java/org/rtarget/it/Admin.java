package org.rtarget.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** The server's admin HTTP endpoint, as a test reads it. */
public final class Admin {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final String base;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    public Admin(String hostPort) {
        this.base = "http://" + hostPort;
    }

    public String get(String path) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + path)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new AssertionError("GET " + path + " -> " + r.statusCode() + ": " + r.body());
        }
        return r.body();
    }

    /** POSTs an action; the HTTP status and body. */
    public HttpResponse<String> post(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(base + path)).POST(HttpRequest.BodyPublishers.noBody())
                .timeout(Duration.ofSeconds(120)).build(), HttpResponse.BodyHandlers.ofString());
    }

    public JsonNode status() throws Exception {
        return JSON.readTree(get("/api/status"));
    }

    /** The LUN called {@code name} in the status. */
    public JsonNode lun(String name) throws Exception {
        for (JsonNode t : status().path("targets")) {
            for (JsonNode l : t.path("luns")) {
                if (l.path("name").asText().equals(name)) {
                    return l;
                }
            }
        }
        throw new AssertionError("no LUN named " + name + " in the status");
    }

    public String standby(String lunName) throws Exception {
        return lun(lunName).path("standby").asText();
    }

    /** Waits (up to {@code seconds}) until the LUN's standby state reads {@code state}. */
    public void awaitStandby(String lunName, String state, int seconds) throws Exception {
        long deadline = System.nanoTime() + seconds * 1_000_000_000L;
        String last = null;
        while (System.nanoTime() < deadline) {
            last = standby(lunName);
            if (last.equals(state)) {
                return;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("LUN " + lunName + " standby state stayed " + last + ", expected " + state);
    }

    /** Waits (up to {@code seconds}) until at least {@code n} commands of the LUN are at its storage. */
    public void awaitInFlight(String lunName, int n, int seconds) throws Exception {
        long deadline = System.nanoTime() + seconds * 1_000_000_000L;
        long last = -1;
        while (System.nanoTime() < deadline) {
            last = lun(lunName).path("inFlight").asLong();
            if (last >= n) {
                return;
            }
            Thread.sleep(20);
        }
        throw new AssertionError("LUN " + lunName + " has " + last + " command(s) at its storage, expected " + n);
    }

    /** A metric's value from /metrics (first sample whose line starts with {@code series}). */
    public double metric(String series) throws Exception {
        for (String line : get("/metrics").split("\n")) {
            if (line.startsWith(series + " ")) {
                return Double.parseDouble(line.substring(series.length() + 1).trim());
            }
        }
        throw new AssertionError("no metric " + series);
    }
}
