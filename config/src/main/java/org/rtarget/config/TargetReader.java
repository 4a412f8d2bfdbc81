package org.rtarget.config;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/** Reads one item of {@code targets:}: its settings, ACL and LUNs. */
final class TargetReader {

    static final List<String> TARGET_KEYS = List.of("iqn", "alias", "queue-depth", "auth", "acl", "luns");
    static final List<String> ACL_KEYS = List.of("initiator", "luns", "addresses");

    private final Problems problems;
    private final AuthReader authReader;
    private final LunReader lunReader;

    TargetReader(Path baseDir, Problems problems) {
        this.problems = problems;
        this.authReader = new AuthReader(baseDir);
        this.lunReader = new LunReader(baseDir, problems);
    }

    /**
     * @param iqns     target names taken so far in the config
     * @param lunNames LUN names taken so far in the config (they are unique across targets)
     */
    Optional<TargetConfig> read(YamlMap map, UniqueNames iqns, UniqueNames lunNames) {
        Optional<String> iqn = map.required("iqn", Scalars.ISCSI_NAME);
        // eui. and naa. hex digits may be written in either case
        iqn.flatMap(name -> iqns.claim(name.toLowerCase(Locale.ROOT), map.path())).ifPresent(first ->
                map.valueError("iqn", "duplicate target (" + first + " has it too)"));
        String alias = map.optional("alias", Scalars.STRING, null);
        int queueDepth = map.optional("queue-depth", Scalars.integer(1, TargetConfig.MAX_QUEUE_DEPTH),
                TargetConfig.DEFAULT_QUEUE_DEPTH);
        AuthConfig auth = authReader.read(map, "auth").orElse(null);

        UniqueNames lunNumbers = new UniqueNames();
        List<LunConfig> luns = new ArrayList<>();
        map.list("luns").ifPresent(list -> {
            for (int i = 0; i < list.size(); i++) {
                list.map(i, LunReader.LUN_KEYS)
                        .flatMap(lun -> lunReader.read(lun, lunNumbers, lunNames))
                        .ifPresent(luns::add);
            }
        });
        List<AclEntry> acl = readAcl(map, lunNumbers);

        if (!problems.isEmpty() || iqn.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(new TargetConfig(iqn.get(), alias, queueDepth, auth, acl, luns));
    }

    private List<AclEntry> readAcl(YamlMap target, UniqueNames lunNumbers) {
        Optional<YamlList> list = target.list("acl");
        if (list.isEmpty()) {
            return List.of();
        }
        List<AclEntry> entries = new ArrayList<>();
        UniqueNames initiators = new UniqueNames();
        for (int i = 0; i < list.get().size(); i++) {
            Optional<YamlMap> item = list.get().map(i, ACL_KEYS);
            if (item.isEmpty()) {
                continue;
            }
            YamlMap map = item.get();
            Optional<String> initiator = map.required("initiator", Scalars.ISCSI_NAME);
            initiator.flatMap(name -> initiators.claim(name, map.path())).ifPresent(first ->
                    map.valueError("initiator", "duplicate initiator (" + first + " names it too)"));
            List<Integer> luns = readAclLuns(map, lunNumbers);
            List<String> addresses = map.list("addresses").map(a -> a.scalars(Scalars.CIDR)).orElse(List.of());
            initiator.ifPresent(name -> entries.add(new AclEntry(name, luns, addresses)));
        }
        return entries;
    }

    /** The LUN mask; each number must be a LUN of this target. */
    private List<Integer> readAclLuns(YamlMap acl, UniqueNames lunNumbers) {
        Optional<YamlList> list = acl.list("luns");
        if (list.isEmpty()) {
            return List.of();
        }
        if (list.get().isEmpty()) {
            // the model reads an empty mask as "all LUNs": the opposite of what "luns: []" seems to say
            problems.at(list.get().node(), list.get().path(), "must not be empty (leave luns out to allow every lun)");
            return List.of();
        }
        List<Integer> luns = new ArrayList<>();
        for (int i = 0; i < list.get().size(); i++) {
            Optional<Integer> lun = Nodes.scalar(list.get().item(i), list.get().pathOf(i),
                    Scalars.integer(0, LunConfig.MAX_LUN), problems);
            if (lun.isPresent() && !lunNumbers.contains(String.valueOf(lun.get()))) {
                problems.at(list.get().item(i), list.get().pathOf(i), "this target has no lun " + lun.get());
            } else {
                lun.filter(n -> !luns.contains(n)).ifPresent(luns::add);
            }
        }
        return luns;
    }
}
