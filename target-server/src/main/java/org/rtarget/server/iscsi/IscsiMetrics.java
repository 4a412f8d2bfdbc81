package org.rtarget.server.iscsi;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.rtarget.server.iscsi.login.LoginStatus;

/** The iSCSI side's metrics: sessions, logins, login failures by reason. */
public final class IscsiMetrics {
    private final MeterRegistry registry;
    private final Counter logins;
    private final Map<LoginStatus, Counter> failures = new ConcurrentHashMap<>();

    public IscsiMetrics(MeterRegistry registry, SessionRegistry sessions) {
        this.registry = registry;
        this.logins = Counter.builder("rtarget.logins").description("successful logins (normal and discovery)")
                .register(registry);
        Gauge.builder("rtarget.sessions", sessions, s -> s.all().stream().filter(x -> !x.discovery()).count())
                .description("normal sessions logged in").register(registry);
        Gauge.builder("rtarget.discovery.sessions", sessions, s -> s.all().stream().filter(IscsiSession::discovery).count())
                .description("discovery sessions logged in").register(registry);
    }

    /** Metrics that go nowhere (tests, tools). */
    public static IscsiMetrics unregistered(SessionRegistry sessions) {
        return new IscsiMetrics(new SimpleMeterRegistry(), sessions);
    }

    void loginSucceeded() {
        logins.increment();
    }

    void loginFailed(LoginStatus status) {
        failures.computeIfAbsent(status, s -> Counter.builder("rtarget.login.failures")
                .description("refused logins, by the status the initiator got")
                .tag("reason", s.text()).tag("status", String.format("0x%04x", s.statusClass() << 8 | s.detail()))
                .register(registry)).increment();
    }
}
