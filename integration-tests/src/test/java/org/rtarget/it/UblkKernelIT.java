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
 * The Linux kernel initiator writes checksummed files to ext4 on a ublk LUN (reissue mode) while
 * its driver is killed five times: no I/O error in the guest, e2fsck clean, every checksum intact.
 */
class UblkKernelIT {
    static final String IQN = "iqn.2026-11.org.rtarget.test:ublk-kernel";

    @TempDir
    Path dir;

    @Test
    void fiveDriverCrashesAreInvisibleToTheKernel() throws Exception {
        Path script = dir.resolve("writer.sh");
        try (InputStream in = UblkKernelIT.class.getResourceAsStream("/guest/standby-outage.sh")) {
            Files.copy(in, script);
        }
        Path image = dir.resolve("kernel.img");
        String command = "[\"" + ServerProcess.java() + "\", \"--enable-native-access=ALL-UNNAMED\", \"-jar\", \""
                + ServerProcess.jar().toAbsolutePath() + "\", \"ublk-driver\", \"--file\", \"" + image + "\"]";
        try (ServerProcess server = ServerProcess.start(dir.resolve("server"), """
                server:
                  portals: ["127.0.0.1:0"]
                  admin: "127.0.0.1:0"
                  state-dir: st
                targets:
                  - iqn: %s
                    luns:
                      - lun: 0
                        name: kfast
                        backend: ublk
                        size: 256M
                        driver:
                          command: %s
                          recovery: reissue
                          restart-backoff: 300ms
                """.formatted(IQN, command))) {
            Admin admin = server.admin();
            Process vm = new ProcessBuilder(Tools.shared().resolve("tools/kernel-initiator").toString(),
                    "--portal", server.portal(), "--iqn", IQN, "--script", script.toString(), "--timeout", "900",
                    "--env", "WRITE_SECONDS=45").redirectErrorStream(true).start();
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
                for (int kill = 0; kill < 5; kill++) {
                    Thread.sleep(4000);
                    ProcessHandle driver = ProcessHandle.allProcesses()
                            .filter(p -> p.info().commandLine().map(c -> c.contains("ublk-driver")
                                    && c.contains(image.toString())).orElse(false))
                            .findFirst().orElseThrow(() -> new AssertionError("no driver running"));
                    driver.destroyForcibly();
                    driver.onExit().get(10, TimeUnit.SECONDS);
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                    while (!admin.lun("kfast").path("driverState").asText().equals("LIVE")
                            || admin.lun("kfast").path("standby").asText().equals("on")) {
                        assertThat(System.nanoTime()).as("recovery after kill %d", kill + 1).isLessThan(deadline);
                        Thread.sleep(50);
                    }
                }
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
            assertThat(server.log().split("the driver is gone: QUIESCED").length - 1).isEqualTo(5);
        }
    }
}
