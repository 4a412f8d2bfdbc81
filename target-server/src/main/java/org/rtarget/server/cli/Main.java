package org.rtarget.server.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The command line of bin/iscsi-target: one subcommand per action. */
@Command(name = "iscsi-target",
        mixinStandardHelpOptions = true,
        version = "rtarget 0.1.0",
        description = "An iSCSI target on recoverable block devices.",
        subcommands = {ServeCommand.class, CheckConfigCommand.class, StatusCommand.class, LunCommand.class,
                SessionCommand.class, ReloadCommand.class, PloopCommand.class, UblkDriverCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns the exit status (0 ok, 1 failure, 2 usage). */
    public static int run(String... args) {
        CommandLine cli = new CommandLine(new Main());
        cli.setUnmatchedOptionsAllowedAsOptionParameters(false);
        cli.setParameterExceptionHandler((e, badArgs) -> {
            CommandLine cmd = e.getCommandLine();
            cmd.getErr().println("iscsi-target: " + e.getMessage());
            CommandLine.UnmatchedArgumentException.printSuggestions(e, cmd.getErr());
            cmd.usage(cmd.getErr());
            return 2;
        });
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println("iscsi-target: " + (e.getMessage() == null ? e.toString() : e.getMessage()));
            return 1;
        });
        return cli.execute(args);
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a command is required");
    }
}
