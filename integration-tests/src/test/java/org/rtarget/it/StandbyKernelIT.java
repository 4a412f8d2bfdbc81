package org.rtarget.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Linux kernel initiator writes checksummed files to ext4 on a LUN whose storage (a bindfs
 * mount) disappears for 10 s: the target answers BUSY meanwhile, and the guest sees no I/O error,
 * a clean e2fsck and every checksum intact after the operator's recovery. The LUN's write cache
 * is off: then every acknowledged write is durable before GOOD and a crash of the storage loses
 * nothing the initiator was told. (With it on, what the dead storage held unflushed is reported at
 * the next flush, as Linux reports a writeback error: the crash cannot be invisible then.)
 */
class StandbyKernelIT {
    static final String IQN = "iqn.2026-11.org.rtarget.test:standby-kernel";

    @TempDir
    Path dir;

    @Test
    void aTenSecondOutageIsInvisibleToTheKernel() throws Exception {
        Path script = dir.resolve("standby-outage.sh");
        try (InputStream in = StandbyKernelIT.class.getResourceAsStream("/guest/standby-outage.sh")) {
            Files.copy(in, script);
        }
        try (FuseMount fuse = new FuseMount(dir.resolve("storage"), dir.resolve("mnt"));
             ServerProcess server = ServerProcess.start(dir.resolve("server"), """
                     server:
                       portals: ["127.0.0.1:0"]
                       admin: "127.0.0.1:0"
                     targets:
                       - iqn: %s
                         luns:
                           - {lun: 0, name: kernel-fused, backend: file, path: %s, size: 256M, write-cache: false}
                     """.formatted(IQN, fuse.path().resolve("disk.img")))) {
            Process vm = new ProcessBuilder(Tools.shared().resolve("tools/kernel-initiator").toString(),
                    "--portal", server.portal(), "--iqn", IQN, "--script", script.toString(), "--timeout", "900",
                    "--env", "WRITE_SECONDS=40").redirectErrorStream(true).start();
            StringBuilder console = new StringBuilder();
            CountDownLatch writing = new CountDownLatch(1);
            Thread reader = Thread.ofVirtual().start(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(vm.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    for (String line; (line = r.readLine()) != null; ) {
                        synchronized (console) {
                            console.append(line).append('\n');
                        }
                        if (line.contains("KI: [standby] writing")) {
                            writing.countDown();
                        }
                    }
                } catch (java.io.IOException e) {
                    // the VM is gone
                }
            });
            try {
                assertThat(writing.await(600, TimeUnit.SECONDS)).as("the guest started writing").isTrue();
                Thread.sleep(3000);
                fuse.killDaemon();
                server.admin().awaitStandby("kernel-fused", "on", 30);
                Thread.sleep(10_000);
                fuse.remount();
                Tools.run(60, ServerProcess.cli("lun", "recover", IQN, "0", "--admin", server.adminAddress())).ok();
                assertThat(server.admin().standby("kernel-fused")).isEqualTo("off");
                assertThat(vm.waitFor(900, TimeUnit.SECONDS)).as("the VM finished").isTrue();
                reader.join(10_000);
            } finally {
                vm.destroyForcibly();
            }
            String out;
            synchronized (console) {
                out = console.toString();
            }
            String tail = out.length() > 5000 ? out.substring(out.length() - 5000) : out;
            assertThat(out).as(tail).contains("KI-RESULT: PASS", "no I/O error");
            assertThat(vm.exitValue()).isZero();
            assertThat(server.admin().metric("rtarget_standby_busy_answers_total{lun=\"kernel-fused\"}"))
                    .as("BUSY answers during the outage").isPositive();
            assertThat(server.log()).contains("LUN kernel-fused entered standby", "LUN kernel-fused left standby");
        }
    }
}
