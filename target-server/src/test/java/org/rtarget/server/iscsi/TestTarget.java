package org.rtarget.server.iscsi;

import io.netty.channel.ChannelHandler;
import io.netty.channel.embedded.EmbeddedChannel;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.rtarget.config.AclEntry;
import org.rtarget.config.AuthConfig;
import org.rtarget.backend.IoCallback;
import org.rtarget.backend.IoFailure;
import org.rtarget.backend.memory.MemoryDevice;
import org.rtarget.config.HostPort;
import org.rtarget.gate.StandbyGate;
import org.rtarget.server.scsi.LogicalUnit;
import org.rtarget.server.scsi.LunIdentity;

/**
 * A target as TargetServer builds it, with memory LUNs 0 (4 MiB) and 1 (64 MiB, like tgt's disk in
 * the captures), and connections on EmbeddedChannels whose pipelines are the server's: the
 * connection's decoder, then the connection. {@link #builder()} adds CHAP, an ACL, more targets and
 * session limits.
 */
final class TestTarget implements AutoCloseable {
    static final String IQN = "iqn.2026-01.org.rtarget.test:disk0";
    static final int BLOCK = 512;
    static final int QUEUE_DEPTH = 8;

    final MemoryDevice device = new MemoryDevice(4L << 20, BLOCK);
    final LogicalUnit unit = new LogicalUnit(LunIdentity.of("disk0", device.kind()), device,
            new StandbyGate("disk0"), false, true);
    final MemoryDevice device1 = new MemoryDevice(64L << 20, BLOCK);
    final LogicalUnit unit1 = new LogicalUnit(LunIdentity.of("disk1", device1.kind()), device1,
            new StandbyGate("disk1"), false, true);
    final IscsiTarget target;
    final SessionRegistry sessions;
    final ServerContext context;
    private final List<EmbeddedChannel> channels = new ArrayList<>();

    TestTarget() {
        this(Duration.ofSeconds(15));
    }

    TestTarget(Duration loginTimeout) {
        this(builder().loginTimeout(loginTimeout));
    }

    private TestTarget(Builder b) {
        target = new IscsiTarget(IQN, null, QUEUE_DEPTH, b.auth, b.acl, Map.of(0, unit, 1, unit1));
        sessions = b.sessions;
        List<IscsiTarget> all = new ArrayList<>(List.of(target));
        all.addAll(b.others);
        context = new ServerContext(
                new TargetDirectory(all, List.of(new HostPort("127.0.0.1", 3260)), b.discoveryAuth),
                sessions, 262144, Duration.ofSeconds(5), Duration.ofSeconds(15), b.loginTimeout);
    }

    static Builder builder() {
        return new Builder();
    }

    /** The test target's settings beyond the defaults. */
    static final class Builder {
        private Duration loginTimeout = Duration.ofSeconds(15);
        private AuthConfig auth;
        private List<AclEntry> acl = List.of();
        private AuthConfig discoveryAuth;
        private SessionRegistry sessions = new SessionRegistry();
        private final List<IscsiTarget> others = new ArrayList<>();

        Builder loginTimeout(Duration timeout) {
            this.loginTimeout = timeout;
            return this;
        }

        Builder auth(AuthConfig auth) {
            this.auth = auth;
            return this;
        }

        Builder acl(AclEntry... entries) {
            this.acl = List.of(entries);
            return this;
        }

        Builder discoveryAuth(AuthConfig auth) {
            this.discoveryAuth = auth;
            return this;
        }

        Builder sessionLimits(int perTarget, int perInitiator) {
            this.sessions = new SessionRegistry(perTarget, perInitiator);
            return this;
        }

        /** Another target in the directory (after the test target, in SendTargets order). */
        Builder other(IscsiTarget target) {
            others.add(target);
            return this;
        }

        TestTarget build() {
            return new TestTarget(this);
        }
    }

    /** A new TCP connection to the target, not logged in yet. */
    TestInitiator connect() {
        IscsiConnection connection = new IscsiConnection(context);
        EmbeddedChannel ch = new EmbeddedChannel(connection.decoder(), connection);
        channels.add(ch);
        return new TestInitiator(ch);
    }

    /** A new connection that comes from {@code from} (an EmbeddedChannel has no IP address of its own). */
    TestInitiator connectFrom(String from) throws Exception {
        IscsiConnection connection = new IscsiConnection(context);
        EmbeddedChannel ch = new AddressedChannel(new InetSocketAddress(from, 40000), connection.decoder(), connection);
        channels.add(ch);
        return new TestInitiator(ch);
    }

    /** An EmbeddedChannel whose peer has an IP address; registered only once the address is set. */
    private static final class AddressedChannel extends EmbeddedChannel {
        private final SocketAddress remote;

        AddressedChannel(SocketAddress remote, ChannelHandler... handlers) throws Exception {
            super(false, false, handlers);
            this.remote = remote;
            register();
        }

        @Override
        protected SocketAddress remoteAddress0() {
            return remote;
        }
    }

    byte[] readDevice(long offset, int length) {
        return read(device, offset, length);
    }

    static byte[] read(MemoryDevice device, long offset, int length) {
        ByteBuffer dst = ByteBuffer.allocate(length);
        device.read(offset, dst, new Expect("read"));
        return dst.array();
    }

    void writeDevice(long offset, byte[] data) {
        device.write(offset, ByteBuffer.wrap(data), new Expect("write"));
    }

    @Override
    public void close() {
        channels.forEach(EmbeddedChannel::finishAndReleaseAll);
    }

    /** The memory device completes synchronously: a failure is a broken test setup. */
    private record Expect(String what) implements IoCallback {
        @Override
        public void completed() {
        }

        @Override
        public void failed(IoFailure failure) {
            throw new AssertionError(what + " failed: " + failure);
        }
    }
}
