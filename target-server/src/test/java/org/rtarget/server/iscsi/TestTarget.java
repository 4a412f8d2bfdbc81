package org.rtarget.server.iscsi;

import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
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
 * connection's decoder, then the connection.
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
    final IscsiTarget target = new IscsiTarget(IQN, null, QUEUE_DEPTH, null, Map.of(0, unit, 1, unit1));
    final SessionRegistry sessions = new SessionRegistry();
    final ServerContext context;
    private final List<EmbeddedChannel> channels = new ArrayList<>();

    TestTarget() {
        this(Duration.ofSeconds(15));
    }

    TestTarget(Duration loginTimeout) {
        context = new ServerContext(
                new TargetDirectory(List.of(target), List.of(new HostPort("127.0.0.1", 3260)), null),
                sessions, 262144, Duration.ofSeconds(5), Duration.ofSeconds(15), loginTimeout);
    }

    /** A new TCP connection to the target, not logged in yet. */
    TestInitiator connect() {
        IscsiConnection connection = new IscsiConnection(context);
        EmbeddedChannel ch = new EmbeddedChannel(connection.decoder(), connection);
        channels.add(ch);
        return new TestInitiator(ch);
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
