package org.rtarget.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Target ACLs and session limits with real initiators: an initiator not in the ACL (or connecting
 * from outside its address ranges) is refused with 0x0202 and does not see the target in discovery;
 * LUN masking shows an initiator only its LUNs; sessions beyond max-sessions-per-initiator or
 * max-sessions-per-target are refused with 0x0302.
 */
class AclIT {
    static final String ACL_IQN = "iqn.2026-11.org.rtarget.test:acl";
    static final String HIDDEN_IQN = "iqn.2026-11.org.rtarget.test:acl-hidden";
    static final String OPEN_IQN = "iqn.2026-11.org.rtarget.test:acl-open";
    /** libiscsi's iscsi-inq logs in with this name unless told otherwise. */
    static final String ISCSI_INQ = "iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-inq";
    static final String ALLOWED = "iqn.2026-11.org.rtarget.test:allowed";
    static final String LOCAL = "iqn.2026-11.org.rtarget.test:local";
    static final String REMOTE = "iqn.2026-11.org.rtarget.test:remote";
    static final String STRANGER = "iqn.2026-11.org.rtarget.test:stranger";
    static final int PER_INITIATOR = 2;
    static final int PER_TARGET = 3;
    @TempDir
    static Path dir;
    static ServerProcess server;

    @BeforeAll
    static void start() throws Exception {
        Tools.require("iscsi-inq", "libiscsi-bin");
        server = ServerProcess.start(dir, """
                server:
                  portals: ["127.0.0.1:0"]
                  admin: "127.0.0.1:0"
                  max-sessions-per-target: %d
                  max-sessions-per-initiator: %d
                targets:
                  - iqn: %s
                    acl:
                      - {initiator: %s, luns: [1]}
                      - {initiator: %s, luns: [1]}
                      - {initiator: %s, addresses: [127.0.0.0/8, "::1"]}
                      - {initiator: %s, addresses: [192.0.2.0/24]}
                    luns:
                      - {lun: 0, name: acl-zero, backend: memory, size: 16M}
                      - {lun: 1, name: acl-one, backend: memory, size: 64M}
                  - iqn: %s
                    acl:
                      - {initiator: iqn.2026-11.org.rtarget.test:nobody}
                    luns:
                      - {lun: 0, name: acl-hidden, backend: memory, size: 16M}
                  - iqn: %s
                    luns:
                      - {lun: 0, name: acl-open, backend: memory, size: 16M}
                """.formatted(PER_TARGET, PER_INITIATOR, ACL_IQN, ISCSI_INQ, ALLOWED, LOCAL, REMOTE, HIDDEN_IQN,
                OPEN_IQN));
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void anInitiatorInTheAclSeesOnlyItsLuns() throws Exception {
        String out = Tools.run(30, "iscsi-inq", server.url(ACL_IQN, 1)).ok().output();
        assertThat(out).contains("Vendor:RTARGET");
        Tools.Result masked = Tools.run(30, "iscsi-inq", server.url(ACL_IQN, 0));
        assertThat(masked.exitCode()).isNotZero();
        assertThat(masked.output()).contains("LOGICAL_UNIT_NOT_SUPPORTED");
        try (RawInitiator raw = RawInitiator.login(server.port(), ALLOWED, ACL_IQN)) {
            assertThat(raw.reportLuns()).containsExactly(1);
        }
    }

    @Test
    void withoutAMaskEveryLunIsSeen() throws Exception {
        try (RawInitiator raw = RawInitiator.login(server.port(), LOCAL, ACL_IQN)) {
            assertThat(raw.reportLuns()).containsExactly(0, 1);
        }
    }

    @Test
    void anInitiatorNotInTheAclIsRefusedWith0202() throws Exception {
        Tools.Result r = Tools.run(30, "iscsi-inq", "-i", STRANGER, server.url(ACL_IQN, 1));
        assertThat(r.exitCode()).isNotZero();
        assertThat(r.output()).contains("Authorization failure(514)").doesNotContain("Vendor:");
        try (RawInitiator raw = RawInitiator.connect(server.port())) {
            assertThat(raw.sendLogin(STRANGER, ACL_IQN, 0x0000_0202_0202L)).isEqualTo(0x0202);
            assertThat(raw.closedByServer(5000)).isTrue();
        }
        assertThat(server.log()).contains("refused: 0x0202 authorization failure: initiator " + STRANGER
                + " is not in the acl of target " + ACL_IQN);
    }

    @Test
    void addressRangesAdmitOnlyTheirAddresses() throws Exception {
        try (RawInitiator raw = RawInitiator.login(server.port(), LOCAL, ACL_IQN)) {
            raw.ping();
        }
        try (RawInitiator raw = RawInitiator.connect(server.port())) {
            assertThat(raw.sendLogin(REMOTE, ACL_IQN, 0x0000_0192_0002L)).isEqualTo(0x0202);
        }
        assertThat(server.log()).contains("initiator " + REMOTE + " may not log in to target " + ACL_IQN
                + " from 127.0.0.1");
    }

    @Test
    void discoveryShowsOnlyTheTargetsTheInitiatorMayUse() throws Exception {
        // iscsi-ls's own name is in no ACL: it sees the open target only
        String anonymous = Tools.run(30, "iscsi-ls", "iscsi://" + server.portal()).ok().output();
        assertThat(anonymous).contains("Target:" + OPEN_IQN).doesNotContain(ACL_IQN + " ", HIDDEN_IQN);
        // with a name from the ACL: that target too, with its one visible LUN
        String allowed = Tools.run(30, "iscsi-ls", "-s", "-i", ALLOWED, "iscsi://" + server.portal()).ok().output();
        assertThat(allowed).contains("Target:" + ACL_IQN + " ", "Target:" + OPEN_IQN).doesNotContain(HIDDEN_IQN);
        String aclTarget = Arrays.stream(allowed.split("(?=Target:)"))
                .filter(block -> block.startsWith("Target:" + ACL_IQN + " ")).findFirst().orElseThrow();
        assertThat(aclTarget).as("LUNs listed for the masked target").contains("Lun:1").doesNotContain("Lun:0");
    }

    @Test
    void qemuWithAnAllowedInitiatorNameReadsAndWritesItsLun() throws Exception {
        Tools.require("qemu-io", "qemu-utils qemu-block-extra");
        List<QemuIo.Region> regions = QemuIo.randomRegions(7, 64L << 20, 8, 256 << 10, 512 << 10);
        QemuIo.run(qemuOpen(ALLOWED, 1), QemuIo.writeThenVerify(regions), regions.size(), regions.size());

        List<String> refused = Tools.list("qemu-io");
        refused.addAll(qemuOpen("iqn.2008-11.org.linux-kvm", 1)); // QEMU's default name: not in the ACL
        refused.addAll(List.of("-c", "read 0 4k"));
        Tools.Result r = Tools.run(60, refused);
        assertThat(r.exitCode()).isNotZero();
        assertThat(r.output()).contains("Authorization failure(514)").doesNotContain("read 4096/4096");
    }

    private static List<String> qemuOpen(String initiatorName, int lun) {
        return List.of("--image-opts", "driver=raw,file.driver=iscsi,file.transport=tcp,file.portal="
                + server.portal() + ",file.target=" + ACL_IQN + ",file.lun=" + lun + ",file.initiator-name="
                + initiatorName);
    }

    @Test
    void sessionsBeyondThePerInitiatorLimitAreRefusedWith0302() throws Exception {
        String initiator = "iqn.2026-11.org.rtarget.test:busy";
        awaitNoSessions();
        List<RawInitiator> open = new ArrayList<>();
        try {
            for (int i = 0; i < PER_INITIATOR; i++) {
                open.add(session(initiator, OPEN_IQN, 0x1000 + i));
            }
            try (RawInitiator extra = RawInitiator.connect(server.port())) {
                assertThat(extra.sendLogin(initiator, OPEN_IQN, 0x1100)).isEqualTo(0x0302);
                assertThat(extra.closedByServer(5000)).isTrue();
            }
            assertThat(server.log()).contains("refused: 0x0302 out of resources: initiator " + initiator
                    + " has " + PER_INITIATOR + " sessions, its limit (server.max-sessions-per-initiator)");
            // one ends: there is room again
            open.removeFirst().close();
            awaitSessions(PER_INITIATOR - 1);
            open.add(session(initiator, OPEN_IQN, 0x1200));
        } finally {
            closeAll(open);
        }
    }

    @Test
    void sessionsBeyondThePerTargetLimitAreRefusedWith0302() throws Exception {
        awaitNoSessions();
        List<RawInitiator> open = new ArrayList<>();
        try {
            for (int i = 0; i < PER_TARGET; i++) {
                open.add(session("iqn.2026-11.org.rtarget.test:crowd" + i, OPEN_IQN, 0x2000 + i));
            }
            try (RawInitiator extra = RawInitiator.connect(server.port())) {
                assertThat(extra.sendLogin("iqn.2026-11.org.rtarget.test:late", OPEN_IQN, 0x2100)).isEqualTo(0x0302);
            }
            assertThat(server.log()).contains("target " + OPEN_IQN + " has " + PER_TARGET
                    + " sessions, its limit (server.max-sessions-per-target)");
        } finally {
            closeAll(open);
        }
    }

    /** A normal session with its own ISID. */
    private static RawInitiator session(String initiator, String target, long isid) throws IOException {
        RawInitiator raw = RawInitiator.connect(server.port());
        int status = raw.sendLogin(initiator, target, isid);
        if (status != 0) {
            raw.close();
            throw new IOException(String.format("login of %s failed with status 0x%04x", initiator, status));
        }
        return raw;
    }

    private static void awaitNoSessions() throws Exception {
        awaitSessions(0);
    }

    /**
     * Waits until the server has {@code count} sessions: it drops a session when it sees its TCP
     * connection close, a moment after the client closed it.
     */
    private static void awaitSessions(int count) throws Exception {
        for (int i = 0; i < 100 && server.admin().status().path("sessions").size() != count; i++) {
            Thread.sleep(50);
        }
        assertThat(server.admin().status().path("sessions").size()).as("sessions on the server").isEqualTo(count);
    }

    private static void closeAll(List<RawInitiator> sessions) throws IOException {
        for (RawInitiator r : sessions) {
            r.close();
        }
    }
}
