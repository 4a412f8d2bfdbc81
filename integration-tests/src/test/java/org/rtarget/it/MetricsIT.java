package org.rtarget.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** /metrics on the admin port: what a Prometheus server scrapes, checked with promtool. */
class MetricsIT {
    static final String IQN = "iqn.2026-11.org.rtarget.test:metrics";

    @TempDir
    Path dir;

    @Test
    void metricsPassPromtoolAndCountWhatHappened() throws Exception {
        Tools.require("promtool", "prometheus");
        try (ServerProcess server = ServerProcess.start(dir.resolve("server"), """
                server:
                  portals: ["127.0.0.1:0"]
                  admin: "127.0.0.1:0"
                  state-dir: st
                targets:
                  - iqn: %s
                    luns:
                      - {lun: 0, name: m0, backend: memory, size: 16M}
                      - {lun: 1, name: m1, backend: file, path: m1.img, size: 16M}
                """.formatted(IQN));
             RawInitiator raw = RawInitiator.login(server.port(), "iqn.2026-11.org.rtarget.test:metrics-client", IQN)) {
            for (int i = 0; i < 10; i++) {
                raw.write10(0, i * 8L, new byte[4096], 512);
                raw.read10(0, i * 8L, 8, 512);
            }
            // A refused login is counted by reason.
            assertThat(Tools.run(30, "iscsi-inq", server.url("iqn.2026-11.org.rtarget.test:nothere", 0)).exitCode())
                    .isNotZero();
            Admin admin = server.admin();
            String text = admin.get("/metrics");
            Path file = dir.resolve("metrics.txt");
            Files.writeString(file, text);
            Tools.Result check = Tools.run(60, "sh", "-c", "promtool check metrics < " + file);
            assertThat(check.exitCode()).as(check.output()).isZero();

            assertThat(admin.metric("rtarget_lun_commands_total{lun=\"m0\",op=\"write\"}")).isEqualTo(10.0);
            assertThat(admin.metric("rtarget_lun_commands_total{lun=\"m0\",op=\"read\"}")).isEqualTo(10.0);
            assertThat(admin.metric("rtarget_lun_bytes_total{lun=\"m0\",op=\"write\"}")).isEqualTo(40960.0);
            assertThat(admin.metric("rtarget_lun_command_duration_seconds_count{lun=\"m0\",op=\"read\"}")).isEqualTo(10.0);
            assertThat(text).contains("rtarget_lun_command_duration_seconds_bucket{lun=\"m0\",op=\"read\",le=");
            assertThat(admin.metric("rtarget_sessions")).isEqualTo(1.0);
            assertThat(text).containsPattern("rtarget_login_failures_total\\{reason=\"target not found\",status=\"0x0203\"} 1.0");
            assertThat(admin.metric("rtarget_standby_active{lun=\"m1\"}")).isZero();
            assertThat(admin.metric("rtarget_standby_enabled{lun=\"m1\"}")).isEqualTo(1.0);
            assertThat(admin.metric("rtarget_standby_enabled{lun=\"m0\"}")).isZero();
            assertThat(text).contains("jvm_memory_used_bytes", "process_uptime_seconds");
        }
    }

    @Test
    void theCommandLineTalksToTheRunningServer() throws Exception {
        int adminPort;
        try (var probe = new java.net.ServerSocket(0, 1, java.net.InetAddress.getByName("127.0.0.1"))) {
            adminPort = probe.getLocalPort(); // a fixed port, so that --config can name it
        }
        try (ServerProcess server = ServerProcess.start(dir.resolve("server"), """
                server:
                  portals: ["127.0.0.1:0"]
                  admin: "127.0.0.1:%d"
                  state-dir: st
                targets:
                  - iqn: %s
                    luns:
                      - {lun: 0, name: c0, backend: file, path: c0.img, size: 16M}
                """.formatted(adminPort, IQN));
             RawInitiator raw = RawInitiator.login(server.port(), "iqn.2026-11.org.rtarget.test:cli-client", IQN)) {
            String table = Tools.run(60, ServerProcess.cli("status", "--admin", server.adminAddress())).ok().output();
            assertThat(table).contains("TARGET", "STANDBY", IQN, "c0", "file", "16 MiB", "off");
            assertThat(table).contains("iqn.2026-11.org.rtarget.test:cli-client");
            String json = Tools.run(60, ServerProcess.cli("status", "--json", "--admin", server.adminAddress())).ok().output();
            assertThat(json).contains("\"standby\" : \"off\"", "\"HeaderDigest\" : \"None\"");
            // --config names the admin endpoint too.
            assertThat(Tools.run(60, ServerProcess.cli("status", "--config", server.config().toString())).ok().output())
                    .contains("c0");
            Tools.Result recover = Tools.run(60, ServerProcess.cli("lun", "recover", IQN, "0", "--admin",
                    server.adminAddress()));
            assertThat(recover.output()).contains("recovered, standby off");
            Tools.Result noServer = Tools.run(60, ServerProcess.cli("status", "--admin", "127.0.0.1:1"));
            assertThat(noServer.exitCode()).isEqualTo(1);
            assertThat(noServer.output()).contains("no server answers on 127.0.0.1:1").doesNotContain("\tat ");
        }
    }

    @Test
    void anOperatorDropsOneSessionAndTheOthersCarryOn() throws Exception {
        try (ServerProcess server = ServerProcess.start(dir.resolve("server"), """
                server:
                  portals: ["127.0.0.1:0"]
                  admin: "127.0.0.1:0"
                  state-dir: st
                targets:
                  - iqn: %s
                    luns:
                      - {lun: 0, name: d0, backend: memory, size: 16M}
                """.formatted(IQN));
             RawInitiator noisy = RawInitiator.login(server.port(), "iqn.2026-11.org.rtarget.test:noisy", IQN);
             RawInitiator quiet = RawInitiator.login(server.port(), "iqn.2026-11.org.rtarget.test:quiet", IQN)) {
            String list = Tools.run(60, ServerProcess.cli("session", "list", "--admin", server.adminAddress()))
                    .ok().output();
            assertThat(list).contains("TSIH", "MAXBURST", "noisy", "quiet", "None/None");
            int tsih = -1;
            for (var s : server.admin().status().path("sessions")) {
                if (s.path("initiator").asText().endsWith(":noisy")) {
                    tsih = s.path("tsih").asInt();
                }
            }
            assertThat(tsih).isPositive();

            Tools.Result drop = Tools.run(60, ServerProcess.cli("session", "drop", Integer.toString(tsih), "--admin",
                    server.adminAddress()));
            assertThat(drop.exitCode()).as(drop.output()).isZero();
            assertThat(drop.output()).contains("session " + tsih, "noisy", "dropped");
            assertThat(noisy.closedByServer(5000)).isTrue();
            // The answer came once the session was gone: the very next listing no longer has it.
            assertThat(Tools.run(60, ServerProcess.cli("session", "list", "--admin", server.adminAddress()))
                    .ok().output()).doesNotContain("noisy").contains("quiet");
            assertThat(quiet.write10(0, 0, new byte[4096], 512).status()).isZero();
            assertThat(quiet.read10(0, 0, 8, 512).status()).isZero();

            Tools.Result again = Tools.run(60, ServerProcess.cli("session", "drop", Integer.toString(tsih), "--admin",
                    server.adminAddress()));
            assertThat(again.exitCode()).isEqualTo(1);
            assertThat(again.output()).contains("no session with TSIH " + tsih).doesNotContain("\tat ");
            Tools.Result bad = Tools.run(60, ServerProcess.cli("session", "drop", "x", "--admin", server.adminAddress()));
            assertThat(bad.exitCode()).isEqualTo(2);
            assertThat(bad.output()).contains("Usage: iscsi-target session drop");
        }
    }
}
