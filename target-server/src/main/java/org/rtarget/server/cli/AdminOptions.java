package org.rtarget.server.cli;

import java.nio.file.Path;
import org.rtarget.config.ConfigException;
import org.rtarget.config.ConfigLoader;
import org.rtarget.config.HostPort;
import org.rtarget.config.ServerConfig;
import picocli.CommandLine.Option;

/** How a command finds the running server's admin endpoint: --admin, else --config's server.admin. */
final class AdminOptions {
    @Option(names = "--admin", paramLabel = "HOST:PORT", description = "the admin endpoint (default 127.0.0.1:8080)")
    String admin;

    @Option(names = "--config", paramLabel = "FILE", description = "the server's configuration (names server.admin)")
    Path config;

    AdminClient client() throws ConfigException {
        HostPort address;
        if (admin != null) {
            address = HostPort.parse(admin, HostPort.DEFAULT_ADMIN_PORT);
        } else if (config != null) {
            address = ConfigLoader.load(config).server().admin();
        } else {
            address = ServerConfig.DEFAULT_ADMIN;
        }
        return new AdminClient(address);
    }
}
