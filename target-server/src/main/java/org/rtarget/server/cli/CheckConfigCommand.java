package org.rtarget.server.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.rtarget.config.Config;
import org.rtarget.config.ConfigError;
import org.rtarget.config.ConfigException;
import org.rtarget.config.ConfigLoader;
import org.rtarget.config.TargetConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** Validates a configuration file and prints every error as FILE:LINE:COL: key: message. */
@Command(name = "check-config", description = "Validate a configuration file; print every error.")
final class CheckConfigCommand implements Callable<Integer> {

    @Parameters(paramLabel = "FILE", description = "the YAML configuration to check")
    Path file;

    @Override
    public Integer call() {
        try {
            Config config = ConfigLoader.load(file);
            int luns = config.targets().stream().mapToInt(t -> t.luns().size()).sum();
            System.out.printf("%s: OK (%d target%s, %d LUN%s)%n", file, config.targets().size(),
                    config.targets().size() == 1 ? "" : "s", luns, luns == 1 ? "" : "s");
            for (TargetConfig t : config.targets()) {
                System.out.printf("  %s: %d LUN%s%n", t.iqn(), t.luns().size(), t.luns().size() == 1 ? "" : "s");
            }
            return 0;
        } catch (ConfigException e) {
            for (ConfigError error : e.errors()) {
                System.err.println(error);
            }
            return 1;
        }
    }
}
