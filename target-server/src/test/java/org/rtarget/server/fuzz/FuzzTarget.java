package org.rtarget.server.fuzz;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.rtarget.config.AuthConfig;
import org.rtarget.config.ChapCredentials;
import org.rtarget.config.HostPort;
import org.rtarget.config.SecretSource;
import org.rtarget.gate.StandbyGate;
import org.rtarget.server.iscsi.IscsiTarget;
import org.rtarget.server.iscsi.ServerContext;
import org.rtarget.server.iscsi.SessionRegistry;
import org.rtarget.server.iscsi.TargetDirectory;
import org.rtarget.server.scsi.LogicalUnit;
import org.rtarget.server.scsi.LunIdentity;

/**
 * A target as the server builds it, fresh for every try: a disk target with two checked memory LUNs
 * (512-byte blocks, thin; 4 KiB blocks, not thin), a CHAP target (mutual, every algorithm), and
 * discovery; its ServerContext is what each IscsiConnection gets.
 */
final class FuzzTarget {
    static final String IQN = "iqn.2026-01.org.rtarget.fuzz:disk";
    static final String CHAP_IQN = "iqn.2026-01.org.rtarget.fuzz:chap";
    static final String USER = "alice";
    static final String SECRET = "s3cret-s3cret-s3cret";
    static final String TARGET_USER = "tgtuser";
    static final String TARGET_SECRET = "t4rget-s3cret-s3cret";
    static final int QUEUE_DEPTH = 8;
    static final int MAX_RECV = 262144;

    final List<CheckingDevice> devices = new ArrayList<>();
    final SessionRegistry sessions = new SessionRegistry();
    final ServerContext context;

    FuzzTarget() {
        LogicalUnit lu0 = unit("lun0", new CheckingDevice(4L << 20, 512, true));
        LogicalUnit lu1 = unit("lun1", new CheckingDevice(16L << 20, 4096, false));
        LogicalUnit lu2 = unit("chap0", new CheckingDevice(1L << 20, 512, true));
        IscsiTarget disk = new IscsiTarget(IQN, "fuzz disk", QUEUE_DEPTH, null, Map.of(0, lu0, 1, lu1));
        AuthConfig auth = new AuthConfig(chap(USER, SECRET), chap(TARGET_USER, TARGET_SECRET));
        IscsiTarget chap = new IscsiTarget(CHAP_IQN, null, QUEUE_DEPTH, auth, Map.of(0, lu2));
        context = new ServerContext(new TargetDirectory(List.of(disk, chap), List.of(new HostPort("127.0.0.1", 3260)), null),
                sessions, MAX_RECV, Duration.ofSeconds(5), Duration.ofSeconds(15), Duration.ofSeconds(15));
    }

    private LogicalUnit unit(String name, CheckingDevice device) {
        devices.add(device);
        return new LogicalUnit(LunIdentity.of(name, device.kind()), device, new StandbyGate(name), false, true);
    }

    static ChapCredentials chap(String user, String secret) {
        return new ChapCredentials(user, new SecretSource.Inline(secret));
    }

    /** Every out-of-range backend call so far. */
    List<String> violations() {
        List<String> all = new ArrayList<>();
        devices.forEach(d -> all.addAll(d.violations));
        return all;
    }
}
