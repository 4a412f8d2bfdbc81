package org.rtarget.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.exception.NotFoundException;
import com.github.dockerjava.api.model.ExposedPort;
import com.github.dockerjava.api.model.PortBinding;
import com.github.dockerjava.api.model.Ports;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.images.builder.ImageFromDockerfile;
import org.testcontainers.images.builder.Transferable;

/**
 * The project's image, built from docker/Dockerfile (its {@code prebuilt} target, with the jar
 * under test and a local Temurin stand-in as RUNTIME_IMAGE), run with Testcontainers and driven
 * from the host through ports published on 127.0.0.1: libiscsi's tools, qemu-io writes and reads
 * on a memory and a file LUN, and the admin endpoint with its bearer token.
 *
 * <p>Without a Docker engine these tests are reported as skipped (never as passed), unless
 * RTARGET_REQUIRE_DOCKER=1 says an engine must be there: .ci/run starts one and sets it, so
 * there a missing engine fails them. The local base image is built by docker/local-base.sh
 * when it is missing.
 */
class DockerImageIT {
    private static final String IMAGE_NAME = "rtarget-it:latest";
    private static final String RUNTIME_IMAGE = System.getProperty("rtarget.docker.runtimeImage",
            "rtarget-local/temurin:25-jre");
    private static final String IQN = "iqn.2026-11.org.rtarget:docker";
    private static final String TOKEN = "it-token-0123456789abcdef-0123456789";
    private static final String CONFIG = """
            server:
              portals: ["0.0.0.0:3260"]
              admin: "0.0.0.0:8080"
              admin-token-file: /etc/iscsi-target/admin-token
              state-dir: /var/lib/iscsi-target/state
            targets:
              - iqn: %s
                luns:
                  - {lun: 0, name: mem0, backend: memory, size: 64M}
                  - {lun: 1, name: file1, backend: file, path: /var/lib/iscsi-target/file1.img, size: 32M}
            """.formatted(IQN);

    private static ImageFromDockerfile image;

    // withDockerfilePath is deprecated in favour of withDockerfile(Path), which would also try to pull
    // every FROM image of the Dockerfile (eclipse-temurin:25-jdk included): no registry here.
    @SuppressWarnings("deprecation")
    @BeforeAll
    static void buildImage() throws Exception {
        boolean docker = DockerClientFactory.instance().isDockerAvailable();
        if (!docker && "1".equals(System.getenv("RTARGET_REQUIRE_DOCKER"))) {
            fail("no Docker engine answers, and RTARGET_REQUIRE_DOCKER=1 says there must be one (.ci/run starts dockerd)");
        }
        assumeTrue(docker, "no Docker engine: the image tests are skipped");
        Path root = Path.of(System.getProperty("rtarget.root", "..")).toAbsolutePath().normalize();
        ensureBaseImage(root);
        image = new ImageFromDockerfile(IMAGE_NAME, false)
                .withFileFromPath("docker/Dockerfile", root.resolve("docker/Dockerfile"))
                .withFileFromPath("docker/targets.yaml", root.resolve("docker/targets.yaml"))
                .withFileFromPath("target-server/target/iscsi-target.jar", ServerProcess.jar())
                .withDockerfilePath("docker/Dockerfile")
                .withTarget("prebuilt")
                .withBuildArg("RUNTIME_IMAGE", RUNTIME_IMAGE);
        image.get(); // build once for every test, and fail here if the Dockerfile does not build
    }

    /** The image goes (its base stays): repeated runs leave no dangling layers behind. */
    @AfterAll
    static void removeImage() {
        if (image != null) {
            try {
                DockerClientFactory.instance().client().removeImageCmd(IMAGE_NAME).withForce(true).exec();
            } catch (RuntimeException e) {
                // already gone, or never built
            }
        }
    }

    /** The stand-in for eclipse-temurin:25-jre: made by docker/local-base.sh (as .ci/run does) when missing. */
    private static void ensureBaseImage(Path root) throws Exception {
        DockerClient docker = DockerClientFactory.instance().client();
        try {
            docker.inspectImageCmd(RUNTIME_IMAGE).exec();
        } catch (NotFoundException e) {
            Tools.run(600, "bash", root.resolve("docker/local-base.sh").toString()).ok();
        }
    }

    /** A container of the image with {@code ports} published on random ports of 127.0.0.1 only. */
    private static GenericContainer<?> container(int... ports) {
        List<PortBinding> bindings = new ArrayList<>();
        for (int port : ports) {
            bindings.add(new PortBinding(Ports.Binding.bindIp("127.0.0.1"), ExposedPort.tcp(port)));
        }
        return new GenericContainer<>(image)
                .withCreateContainerCmdModifier(cmd -> cmd.getHostConfig()
                        .withPublishAllPorts(false)
                        .withPortBindings(bindings))
                .waitingFor(Wait.forLogMessage(".*rtarget is serving on.*\\n", 1)
                        .withStartupTimeout(Duration.ofSeconds(60)));
    }

    /** The host port on 127.0.0.1 that Docker published for the container's {@code port}. */
    private static int published(GenericContainer<?> container, int port) {
        Ports.Binding[] bindings = container.getContainerInfo().getNetworkSettings().getPorts().getBindings()
                .get(ExposedPort.tcp(port));
        assertThat(bindings).as("bindings of port " + port).isNotEmpty();
        assertThat(bindings[0].getHostIp()).isEqualTo("127.0.0.1");
        return Integer.parseInt(bindings[0].getHostPortSpec());
    }

    @Test
    void servesInitiatorsOnTheHostAndMetricsWithAToken() throws Exception {
        Tools.require("iscsi-ls", "libiscsi-bin");
        Tools.require("qemu-io", "qemu-utils qemu-block-extra");
        try (GenericContainer<?> c = container(3260, 8080)
                .withCopyToContainer(Transferable.of(CONFIG), "/etc/iscsi-target/targets.yaml")
                .withCopyToContainer(Transferable.of(TOKEN + "\n"), "/etc/iscsi-target/admin-token")) {
            c.start();
            int portal = published(c, 3260);
            int admin = published(c, 8080);
            String base = "iscsi://127.0.0.1:" + portal + "/" + IQN;

            // the server runs unprivileged, as the image's rtarget user
            assertThat(c.execInContainer("id", "-u").getStdout().strip()).isEqualTo("10001");

            String ls = Tools.run(60, "iscsi-ls", "-s", "iscsi://127.0.0.1:" + portal).ok().output();
            assertThat(ls).contains("Target:" + IQN).contains("Lun:0").contains("Lun:1");
            String inq = Tools.run(60, "iscsi-inq", base + "/0").ok().output();
            assertThat(inq).contains("RTARGET");

            for (int lun = 0; lun <= 1; lun++) {
                long size = lun == 0 ? 64L << 20 : 32L << 20;
                List<QemuIo.Region> regions = QemuIo.randomRegions(lun + 1, size, 32, 256 * 1024, 2L << 20);
                QemuIo.run(List.of("-f", "raw", base + "/" + lun), QemuIo.writeThenVerify(regions),
                        regions.size(), regions.size());
            }
            // the file LUN's image is a real file in the container, owned by the server's user
            assertThat(c.execInContainer("stat", "-c", "%u %s", "/var/lib/iscsi-target/file1.img").getStdout().strip())
                    .isEqualTo("10001 " + (32L << 20));

            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
            URI metrics = URI.create("http://127.0.0.1:" + admin + "/metrics");
            HttpResponse<String> denied = http.send(HttpRequest.newBuilder(metrics).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(denied.statusCode()).as("/metrics without a token").isEqualTo(401);
            HttpResponse<String> scraped = http.send(HttpRequest.newBuilder(metrics)
                    .header("Authorization", "Bearer " + TOKEN).GET().build(), HttpResponse.BodyHandlers.ofString());
            assertThat(scraped.statusCode()).isEqualTo(200);
            assertThat(scraped.body()).contains("rtarget_standby").contains("lun=\"mem0\"").contains("lun=\"file1\"");
            HttpResponse<String> health = http.send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + admin + "/healthz")).GET().build(), HttpResponse.BodyHandlers.ofString());
            assertThat(health.statusCode()).as("/healthz needs no token").isEqualTo(200);

            assertThat(c.getLogs()).doesNotContain("ERROR").doesNotContain("Exception");
        }
    }

    @Test
    void theDefaultConfigurationServesTheDemo() throws Exception {
        Tools.require("iscsi-ls", "libiscsi-bin");
        try (GenericContainer<?> c = container(3260)) {
            c.start();
            int portal = published(c, 3260);
            String ls = Tools.run(60, "iscsi-ls", "-s", "iscsi://127.0.0.1:" + portal).ok().output();
            assertThat(ls).contains("Target:iqn.2026-11.org.rtarget:demo").contains("Lun:0");
            String url = "iscsi://127.0.0.1:" + portal + "/iqn.2026-11.org.rtarget:demo/0";
            Tools.Result io = Tools.run(120, "qemu-io", "-f", "raw", "-c", "write -P 0xa5 0 4M", "-c",
                    "read -P 0xa5 0 4M", url).ok();
            assertThat(io.output()).doesNotContain("failed");
            // the image's admin endpoint stays on the container's loopback: nothing is published for it
            assertThat(c.getContainerInfo().getNetworkSettings().getPorts().getBindings()
                    .get(ExposedPort.tcp(8080))).isNullOrEmpty();
            assertThat(c.getLogs()).contains("admin API and /metrics on http://127.0.0.1:8080/");
        }
    }
}
