package org.rtarget.server.cli;

import java.nio.file.Path;
import org.rtarget.config.ConfigException;
import org.rtarget.config.ConfigLoader;
import picocli.CommandLine.Option;

/**
 * How a command reaches the running server's admin endpoint: --admin, else --config's server.admin;
 * the token and TLS trust come from --token-file/--cacert, else from the configuration.
 */
final class AdminOptions {
    @Option(names = "--admin", paramLabel = "[https://]HOST:PORT",
            description = "the admin endpoint (default 127.0.0.1:8080)")
    String admin;

    @Option(names = "--config", paramLabel = "FILE",
            description = "the server's configuration (names server.admin, its token file and TLS)")
    Path config;

    @Option(names = "--token-file", paramLabel = "FILE", description = "a file holding the admin bearer token")
    Path tokenFile;

    @Option(names = "--cacert", paramLabel = "FILE",
            description = "PEM certificate(s) to trust for an https admin endpoint")
    Path caCert;

    AdminClient client() throws ConfigException {
        return new AdminClient(AdminTransport.builder()
                .admin(admin)
                .server(config == null ? null : ConfigLoader.load(config).server())
                .tokenFile(tokenFile)
                .caCert(caCert)
                .build());
    }
}
