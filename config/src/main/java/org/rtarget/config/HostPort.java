package org.rtarget.config;

import java.util.Objects;
import java.util.regex.Pattern;

/**
 * A listening address: host name or IP literal, and port. IPv6 hosts are kept without
 * brackets; {@link #toString()} puts them back. Port 0 means "any free port" (handy in tests).
 */
public record HostPort(String host, int port) {

    public static final int DEFAULT_PORTAL_PORT = 3260;
    public static final int DEFAULT_ADMIN_PORT = 8080;

    private static final Pattern HOST_LABEL = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?");
    private static final Pattern ZONE = Pattern.compile("[A-Za-z0-9_.-]+");

    public HostPort {
        Objects.requireNonNull(host, "host");
        if (host.isEmpty()) {
            throw new IllegalArgumentException("host must not be empty");
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port " + port + " is not in 0..65535");
        }
    }

    /**
     * Reads "127.0.0.1:3260", "[::]:3260", "localhost:3260", or a host alone, which gets
     * {@code defaultPort}.
     *
     * @throws IllegalArgumentException with a message fit for an operator
     */
    public static HostPort parse(String text, int defaultPort) {
        String host;
        String port;
        if (text.startsWith("[")) {
            int close = text.indexOf(']');
            if (close < 0) {
                throw notHostPort(text);
            }
            host = text.substring(1, close);
            String rest = text.substring(close + 1);
            if (!rest.isEmpty() && !rest.startsWith(":")) {
                throw notHostPort(text);
            }
            port = rest.isEmpty() ? null : rest.substring(1);
            if (!isIpv6Literal(host)) {
                throw new IllegalArgumentException("\"" + host + "\" is not an IPv6 address");
            }
        } else {
            int colon = text.indexOf(':');
            if (colon != text.lastIndexOf(':')) {
                throw new IllegalArgumentException(
                        "\"" + text + "\": put an IPv6 address in brackets, as in \"[::1]:3260\"");
            }
            host = colon < 0 ? text : text.substring(0, colon);
            port = colon < 0 ? null : text.substring(colon + 1);
            if (!isHostNameOrIpv4(host)) {
                throw notHostPort(text);
            }
        }
        return new HostPort(host, port == null ? defaultPort : parsePort(text, port));
    }

    public boolean isIpv6() {
        return host.indexOf(':') >= 0;
    }

    /** "host:port", with brackets around an IPv6 host: the form {@link #parse} reads back. */
    @Override
    public String toString() {
        return (isIpv6() ? "[" + host + "]" : host) + ":" + port;
    }

    private static int parsePort(String text, String port) {
        if (port.isEmpty() || port.length() > 5 || !port.chars().allMatch(IpAddresses::isDigit)) {
            throw notHostPort(text);
        }
        int value = Integer.parseInt(port);
        if (value > 65535) {
            throw new IllegalArgumentException("port " + value + " is not in 0..65535");
        }
        return value;
    }

    private static boolean isIpv6Literal(String host) {
        int percent = host.indexOf('%');
        if (percent >= 0 && !ZONE.matcher(host.substring(percent + 1)).matches()) {
            return false;
        }
        return IpAddresses.parseIpv6(percent >= 0 ? host.substring(0, percent) : host) != null;
    }

    /** A dotted quad, or an RFC 1123 host name (not all-numeric, so "999.1.1.1" is refused). */
    private static boolean isHostNameOrIpv4(String host) {
        if (host.isEmpty() || host.length() > 253) {
            return false;
        }
        if (host.chars().allMatch(c -> IpAddresses.isDigit(c) || c == '.')) {
            return IpAddresses.parseIpv4(host) != null;
        }
        for (String label : host.split("\\.", -1)) {
            if (!HOST_LABEL.matcher(label).matches()) {
                return false;
            }
        }
        return true;
    }

    private static IllegalArgumentException notHostPort(String text) {
        return new IllegalArgumentException(
                "\"" + text + "\" is not a host:port (e.g. 127.0.0.1:3260 or [::]:3260)");
    }
}
