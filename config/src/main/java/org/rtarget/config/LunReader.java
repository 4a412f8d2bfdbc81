package org.rtarget.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/** Reads one item of a target's {@code luns:} list, including its backend's rules. */
final class LunReader {

    static final List<String> LUN_KEYS = List.of("lun", "name", "backend", "path", "size", "block-size",
            "read-only", "write-cache", "deltas", "driver", "io-threads", "standby-enable", "standby-busy-max",
            "standby-fallback", "standby-errors", "stall-timeout", "drain-timeout");
    static final List<String> DRIVER_KEYS = List.of("command", "recovery", "restart-backoff",
            "restart-limit", "request-timeout", "queues", "queue-depth");

    /** Keys that only some backends take; every other LUN key applies to all of them. */
    private static final Set<String> BACKEND_KEYS = Set.of("path", "size", "deltas", "driver", "io-threads");

    private record BackendRules(Set<String> allowed, List<String> required) {
    }

    private static final Map<BackendType, BackendRules> RULES = Map.of(
            BackendType.MEMORY, new BackendRules(Set.of("size"), List.of("size")),
            // size is optional: needed only when the file does not exist yet, which the server decides
            BackendType.FILE, new BackendRules(Set.of("path", "size", "io-threads"), List.of("path")),
            // a ploop image carries its own size
            BackendType.PLOOP, new BackendRules(Set.of("deltas", "io-threads"), List.of("deltas")),
            BackendType.UBLK, new BackendRules(Set.of("size", "driver"), List.of("size", "driver")));

    private final Path baseDir;
    private final Problems problems;

    LunReader(Path baseDir, Problems problems) {
        this.baseDir = baseDir;
        this.problems = problems;
    }

    /**
     * @param numbersInTarget LUN numbers taken so far in this target
     * @param namesInConfig   LUN names taken so far in the whole config
     */
    Optional<LunConfig> read(YamlMap map, UniqueNames numbersInTarget, UniqueNames namesInConfig) {
        Optional<Integer> number = map.required("lun", Scalars.integer(0, LunConfig.MAX_LUN));
        number.flatMap(n -> numbersInTarget.claim(String.valueOf(n), map.path())).ifPresent(first ->
                map.valueError("lun", "duplicate lun " + number.get() + " (" + first + " has it too)"));
        Optional<String> name = map.required("name", Scalars.LUN_NAME);
        name.flatMap(n -> namesInConfig.claim(n, map.path())).ifPresent(first ->
                map.valueError("name", "duplicate LUN name \"" + name.get() + "\" (" + first
                        + " has it too; LUN names are unique across the config)"));
        Optional<BackendType> backend = map.required("backend", Scalars.BACKEND);

        Optional<Integer> givenBlockSize = map.optional("block-size", Scalars.BLOCK_SIZE);
        boolean blockSizeOk = !map.has("block-size") || givenBlockSize.isPresent();
        int blockSize = givenBlockSize.orElse(LunConfig.DEFAULT_BLOCK_SIZE);
        Optional<Long> size = map.optional("size", Scalars.SIZE);
        if (size.isPresent() && blockSizeOk && size.get() % blockSize != 0) {
            map.valueError("size", "\"" + map.text("size") + "\" (" + size.get()
                    + " bytes) is not a multiple of block-size " + blockSize);
        }
        boolean readOnly = map.optional("read-only", Scalars.BOOLEAN, false);
        boolean writeCache = map.optional("write-cache", Scalars.BOOLEAN, true);
        Optional<Path> path = map.optional("path", Scalars.path(baseDir));
        List<Path> deltas = readDeltas(map);
        Optional<DriverConfig> driver = map.map("driver", DRIVER_KEYS).flatMap(this::readDriver);
        int ioThreads = map.optional("io-threads", Scalars.integer(1, 256), LunConfig.DEFAULT_IO_THREADS);
        StandbyConfig standby = readStandby(map);
        backend.ifPresent(b -> checkBackendKeys(map, b));

        if (!problems.isEmpty() || number.isEmpty() || name.isEmpty() || backend.isEmpty()) {
            return Optional.empty(); // the config is rejected anyway; no half-built LUN escapes
        }
        return Optional.of(new LunConfig(number.get(), name.get(), backend.get(), path.orElse(null),
                size.orElse(0L), blockSize, readOnly, writeCache, deltas, driver.orElse(null), standby, ioThreads));
    }

    private void checkBackendKeys(YamlMap map, BackendType backend) {
        BackendRules rules = RULES.get(backend);
        for (String key : LUN_KEYS) {
            if (BACKEND_KEYS.contains(key) && map.has(key) && !rules.allowed().contains(key)) {
                map.keyError(key, "is not used by backend " + backend.yamlName());
            }
        }
        for (String key : rules.required()) {
            if (!map.has(key)) {
                map.missing(key, "is required for backend " + backend.yamlName());
            }
        }
    }

    private List<Path> readDeltas(YamlMap map) {
        Optional<YamlList> list = map.list("deltas");
        if (list.isEmpty()) {
            return List.of();
        }
        if (list.get().isEmpty()) {
            problems.at(list.get().node(), list.get().path(), "needs at least one image (base first, top last)");
        }
        return list.get().scalars(Scalars.path(baseDir));
    }

    private Optional<DriverConfig> readDriver(YamlMap map) {
        Optional<List<String>> command = Optional.empty();
        if (!map.has("command")) {
            map.missing("command", "is required");
        } else {
            Optional<YamlList> list = map.list("command");
            if (list.isPresent() && list.get().isEmpty()) {
                problems.at(list.get().node(), list.get().path(), "needs at least the program to run");
            } else if (list.isPresent()) {
                List<String> words = list.get().scalars(Scalars.STRING);
                command = words.size() == list.get().size() ? Optional.of(words) : Optional.empty();
            }
        }
        DriverConfig.Recovery recovery = map.optional("recovery", Scalars.RECOVERY, DriverConfig.DEFAULT_RECOVERY);
        Duration backoff = map.optional("restart-backoff", Scalars.DURATION, DriverConfig.DEFAULT_RESTART_BACKOFF);
        int limit = map.optional("restart-limit", Scalars.integer(0, Integer.MAX_VALUE), DriverConfig.DEFAULT_RESTART_LIMIT);
        Duration timeout = map.optional("request-timeout", Scalars.POSITIVE_DURATION,
                DriverConfig.DEFAULT_REQUEST_TIMEOUT);
        int queues = map.optional("queues", Scalars.integer(1, 16), DriverConfig.DEFAULT_QUEUES);
        int depth = map.optional("queue-depth", Scalars.integer(1, 4096), DriverConfig.DEFAULT_QUEUE_DEPTH);
        return command.map(c -> new DriverConfig(c, recovery, backoff, limit, timeout, queues, depth));
    }

    private StandbyConfig readStandby(YamlMap map) {
        boolean enable = map.optional("standby-enable", Scalars.BOOLEAN, true);
        Duration busyMax = map.optional("standby-busy-max", Scalars.DURATION, StandbyConfig.DEFAULT_BUSY_MAX);
        StandbyConfig.Fallback fallback = map.optional("standby-fallback", Scalars.FALLBACK,
                StandbyConfig.Fallback.NOT_READY);
        List<String> errors = map.list("standby-errors")
                .map(list -> list.scalars(Scalars.ERRNO_NAME).stream().distinct().toList())
                .orElse(null); // the backend's default
        Duration stallTimeout = map.optional("stall-timeout", Scalars.DURATION, StandbyConfig.DEFAULT_STALL_TIMEOUT);
        Duration drainTimeout = map.optional("drain-timeout", Scalars.POSITIVE_DURATION,
                StandbyConfig.DEFAULT_DRAIN_TIMEOUT);
        return new StandbyConfig(enable, busyMax, fallback, errors, stallTimeout, drainTimeout);
    }
}
