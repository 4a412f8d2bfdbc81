package org.rtarget.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.rtarget.config.HostPort;

/** Talks to a running server's admin endpoint. */
final class AdminClient {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final AdminTransport transport;
    private final HostPort address;
    private final HttpClient http;

    AdminClient(AdminTransport transport) {
        this.transport = transport;
        this.address = transport.address();
        this.http = transport.http();
    }

    AdminClient(HostPort address) {
        this(AdminTransport.plain(address));
    }

    /** A failure talking to the server, with a message for the operator. */
    static final class AdminException extends Exception {
        AdminException(String message) {
            super(message, null, false, false);
        }
    }

    JsonNode get(String path) throws AdminException {
        return send(transport.request(path).GET());
    }

    JsonNode post(String path) throws AdminException {
        return send(transport.request(path).POST(HttpRequest.BodyPublishers.noBody()));
    }

    /** A POST whose answer is JSON even when it reports errors (422): the caller prints them. */
    JsonNode postForJson(String path) throws AdminException {
        try {
            HttpResponse<String> r = http.send(transport.request(path).timeout(Duration.ofSeconds(300))
                    .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
            JsonNode body = JSON.readTree(r.body());
            if (r.statusCode() >= 400 && r.statusCode() != 422) {
                throw new AdminException(body.path("error").asText("HTTP " + r.statusCode()));
            }
            return body;
        } catch (ConnectException e) {
            throw new AdminException("no server answers on " + address + " (is it running? --admin or --config name it)");
        } catch (IOException e) {
            throw new AdminException("talking to " + address + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AdminException("interrupted");
        }
    }

    static String encode(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    private JsonNode send(HttpRequest.Builder request) throws AdminException {
        try {
            HttpResponse<String> r = http.send(request.timeout(Duration.ofSeconds(60)).build(),
                    HttpResponse.BodyHandlers.ofString());
            JsonNode body = JSON.readTree(r.body());
            if (r.statusCode() >= 400) {
                throw new AdminException(body.path("error").asText("HTTP " + r.statusCode()));
            }
            return body;
        } catch (ConnectException e) {
            throw new AdminException("no server answers on " + address + " (is it running? --admin or --config name it)");
        } catch (IOException e) {
            throw new AdminException("talking to " + address + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AdminException("interrupted");
        }
    }
}
