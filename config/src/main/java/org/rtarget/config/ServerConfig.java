package org.rtarget.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * Settings of the server as a whole (the {@code server:} section).
 *
 * @param portals                  where initiators connect; at least one
 * @param admin                    the admin HTTP API and /metrics
 * @param stateDir                 runtime files ({@code state-dir}), absolute or against the config's directory
 * @param standbyCheck             the global standby key ({@code standby-check})
 * @param nopInterval              NOP-In ping interval ({@code nop-interval}); zero disables target pings
 * @param nopTimeout               how long a ping may go unanswered ({@code nop-timeout})
 * @param loginTimeout             how long a login may take ({@code login-timeout})
 * @param maxRecvDataSegmentLength the target's MaxRecvDataSegmentLength offer, 512..16777215
 * @param discoveryAuth            CHAP for SendTargets discovery sessions ({@code discovery-auth}); null for none
 * @param maxSessionsPerTarget     normal sessions one target may have at once ({@code max-sessions-per-target});
 *                                 default 64
 * @param maxSessionsPerInitiator  normal sessions one initiator name may have at once, over all targets
 *                                 ({@code max-sessions-per-initiator}); default 16. Discovery sessions count
 *                                 for neither limit.
 */
public record ServerConfig(List<HostPort> portals, HostPort admin, Path stateDir, boolean standbyCheck,
                           Duration nopInterval, Duration nopTimeout, Duration loginTimeout,
                           int maxRecvDataSegmentLength, AuthConfig discoveryAuth,
                           int maxSessionsPerTarget, int maxSessionsPerInitiator,
                           Path adminTokenFile, AdminTlsConfig adminTls) {

    public static final HostPort DEFAULT_PORTAL = new HostPort("127.0.0.1", HostPort.DEFAULT_PORTAL_PORT);
    public static final HostPort DEFAULT_ADMIN = new HostPort("127.0.0.1", HostPort.DEFAULT_ADMIN_PORT);
    public static final String DEFAULT_STATE_DIR = "state";
    public static final Duration DEFAULT_NOP_INTERVAL = Duration.ofSeconds(5);
    public static final Duration DEFAULT_NOP_TIMEOUT = Duration.ofSeconds(15);
    public static final Duration DEFAULT_LOGIN_TIMEOUT = Duration.ofSeconds(15);
    public static final int DEFAULT_MAX_RECV_DATA_SEGMENT_LENGTH = 262_144;
    public static final int MIN_MAX_RECV_DATA_SEGMENT_LENGTH = 512;
    public static final int MAX_MAX_RECV_DATA_SEGMENT_LENGTH = 16_777_215;
    /** Enough for every path of a multipathed host or a small cluster, low enough to stop a login loop. */
    public static final int DEFAULT_MAX_SESSIONS_PER_TARGET = 64;
    /** A host with 4 paths to 4 targets; more is a misbehaving or misconfigured initiator. */
    public static final int DEFAULT_MAX_SESSIONS_PER_INITIATOR = 16;
    /** TSIHs are 16 bits: no server can hold more sessions than this. */
    public static final int MAX_SESSIONS = 65_535;

    public ServerConfig {
        portals = List.copyOf(portals);
        Objects.requireNonNull(admin, "admin");
        Objects.requireNonNull(stateDir, "stateDir");
        Objects.requireNonNull(nopInterval, "nopInterval");
        Objects.requireNonNull(nopTimeout, "nopTimeout");
        Objects.requireNonNull(loginTimeout, "loginTimeout");
    }

    /** What a config without a {@code server:} section gets; the state dir lies in {@code baseDir}. */
    public static ServerConfig defaults(Path baseDir) {
        return new ServerConfig(List.of(DEFAULT_PORTAL), DEFAULT_ADMIN, baseDir.resolve(DEFAULT_STATE_DIR),
                true, DEFAULT_NOP_INTERVAL, DEFAULT_NOP_TIMEOUT, DEFAULT_LOGIN_TIMEOUT,
                DEFAULT_MAX_RECV_DATA_SEGMENT_LENGTH, null, DEFAULT_MAX_SESSIONS_PER_TARGET,
                DEFAULT_MAX_SESSIONS_PER_INITIATOR, null, null);
    }

    /** Whether {@code admin} names a loopback address (127.0.0.0/8, ::1, localhost) and nothing else. */
    public boolean adminOnLoopback() {
        return isLoopback(admin.host());
    }

    /**
     * Whether a host as written in the configuration is loopback: an IPv4 literal in 127.0.0.0/8,
     * {@code ::1} (or its IPv4-mapped forms) or {@code localhost}. Other names are not resolved here.
     */
    public static boolean isLoopback(String host) {
        if (host.equalsIgnoreCase("localhost")) {
            return true;
        }
        byte[] v4 = IpAddresses.parseIpv4(host);
        if (v4 != null) {
            return v4[0] == 127;
        }
        int percent = host.indexOf('%');
        byte[] v6 = IpAddresses.parseIpv6(percent >= 0 ? host.substring(0, percent) : host);
        if (v6 == null) {
            return false;
        }
        for (int i = 0; i < 10; i++) {
            if (v6[i] != 0) {
                return false;
            }
        }
        if (v6[10] == (byte) 0xff && v6[11] == (byte) 0xff) {
            return v6[12] == 127; // ::ffff:127.x.y.z
        }
        for (int i = 10; i < 15; i++) {
            if (v6[i] != 0) {
                return false;
            }
        }
        return v6[15] == 1;
    }
}
