package org.rtarget.it;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A deliberately small iSCSI initiator for tests that must see the protocol itself: SCSI status
 * bytes (BUSY, TASK SET FULL), sense data, or what happens to a connection that sends a bad PDU.
 * One connection, no digests, immediate data only, one command at a time.
 */
public final class RawInitiator implements AutoCloseable {
    /** A SCSI command's outcome as the wire carried it. */
    public record Response(int status, byte[] sense, byte[] data, int residualFlags, int residual) {
        public int senseKey() {
            return sense.length > 2 ? sense[2] & 0x0F : -1;
        }

        public int asc() {
            return sense.length > 12 ? sense[12] & 0xFF : -1;
        }

        public int ascq() {
            return sense.length > 13 ? sense[13] & 0xFF : -1;
        }
    }

    private final Socket socket;
    private final DataInputStream in;
    private final OutputStream out;
    private int cmdSn;
    private int expStatSn;
    private int itt = 1;
    private int maxRecv = 8192;

    private RawInitiator(Socket socket) throws IOException {
        this.socket = socket;
        this.in = new DataInputStream(socket.getInputStream());
        this.out = socket.getOutputStream();
    }

    /** Connects without logging in (for tests of what the server does with a bad login). */
    public static RawInitiator connect(int port) throws IOException {
        Socket s = new Socket();
        s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        s.setSoTimeout(10_000);
        s.setTcpNoDelay(true);
        return new RawInitiator(s);
    }

    /** Connects and logs in to a normal session in one login request; returns the login status. */
    public static RawInitiator login(int port, String initiator, String target) throws IOException {
        RawInitiator r = connect(port);
        int status = r.sendLogin(initiator, target, 0x0000_2345_6789L);
        if (status != 0) {
            r.close();
            throw new IOException(String.format("login failed with status 0x%04x", status));
        }
        return r;
    }

    /** Sends one Login Request (operational stage straight to full feature); returns the status. */
    public int sendLogin(String initiator, String target, long isid) throws IOException {
        Map<String, String> keys = new LinkedHashMap<>();
        keys.put("InitiatorName", initiator);
        keys.put("TargetName", target);
        keys.put("SessionType", "Normal");
        keys.put("HeaderDigest", "None");
        keys.put("DataDigest", "None");
        keys.put("InitialR2T", "Yes");
        keys.put("ImmediateData", "Yes");
        keys.put("MaxRecvDataSegmentLength", "262144");
        keys.put("MaxBurstLength", "262144");
        keys.put("FirstBurstLength", "262144");
        keys.put("ErrorRecoveryLevel", "0");
        byte[] text = text(keys);
        ByteBuffer h = header(0x43, 0x87, text.length);
        h.putShort(8, (short) (isid >>> 32)).putInt(10, (int) isid);
        h.putInt(16, itt++);
        h.putInt(24, cmdSn);
        h.putInt(28, expStatSn);
        send(h, text);
        Pdu reply = read();
        if (reply.opcode() != 0x23) {
            throw new IOException("expected a Login Response, got opcode " + reply.opcode());
        }
        expStatSn = reply.bhs.getInt(24) + 1;
        for (String pair : new String(reply.data, StandardCharsets.UTF_8).split("\0")) {
            if (pair.startsWith("MaxRecvDataSegmentLength=")) {
                maxRecv = Integer.parseInt(pair.substring(pair.indexOf('=') + 1));
            }
        }
        return (reply.bhs.get(36) & 0xFF) << 8 | (reply.bhs.get(37) & 0xFF);
    }

    /** Runs one SCSI command: CDB, LUN, expected data-in length (read) or data-out (write, may be null). */
    public Response command(int lun, byte[] cdb, int readLength, byte[] writeData) throws IOException {
        send(lun, cdb, readLength, writeData);
        return awaitResponse(readLength);
    }

    /**
     * Sends one SCSI command without waiting for its answer (a command the storage holds); the
     * next {@link #awaitResponse} returns it. One such command at a time.
     */
    public void send(int lun, byte[] cdb, int readLength, byte[] writeData) throws IOException {
        int length = writeData != null ? writeData.length : readLength;
        int flags = 0x80 | (writeData != null ? 0x20 : 0) | (readLength > 0 ? 0x40 : 0) | 0x01;
        ByteBuffer h = header(0x01, flags, writeData == null ? 0 : writeData.length);
        h.putShort(8, (short) lun);
        int tag = itt++;
        h.putInt(16, tag);
        h.putInt(20, length);
        h.putInt(24, cmdSn++);
        h.putInt(28, expStatSn);
        h.position(32);
        h.put(cdb);
        send(h, writeData);
    }

    /** Waits (at most {@code seconds}) for the answer of the command sent last. */
    public Response awaitResponse(int readLength, int seconds) throws IOException {
        socket.setSoTimeout(seconds * 1000);
        try {
            return awaitResponse(readLength);
        } finally {
            socket.setSoTimeout(10_000);
        }
    }

    /** Waits for the answer of the command sent last ({@code readLength}: its data-in length). */
    public Response awaitResponse(int readLength) throws IOException {
        ByteBuffer data = ByteBuffer.allocate(readLength);
        while (true) {
            Pdu p = read();
            switch (p.opcode()) {
                case 0x25 -> { // Data-In
                    data.put(p.bhs.getInt(40), p.data);
                    if ((p.bhs.get(1) & 0x01) != 0) {
                        expStatSn = p.bhs.getInt(24) + 1;
                        return new Response(p.bhs.get(3) & 0xFF, new byte[0],
                                java.util.Arrays.copyOf(data.array(), p.bhs.getInt(40) + p.data.length),
                                p.bhs.get(1) & 0x06, p.bhs.getInt(44));
                    }
                }
                case 0x21 -> { // SCSI Response
                    expStatSn = p.bhs.getInt(24) + 1;
                    byte[] sense = new byte[0];
                    if (p.data.length >= 2) {
                        int n = (p.data[0] & 0xFF) << 8 | (p.data[1] & 0xFF);
                        sense = java.util.Arrays.copyOfRange(p.data, 2, 2 + n);
                    }
                    return new Response(p.bhs.get(3) & 0xFF, sense, new byte[0], p.bhs.get(1) & 0x06,
                            p.bhs.getInt(44));
                }
                case 0x20 -> answerPing(p);
                default -> throw new IOException("unexpected opcode 0x" + Integer.toHexString(p.opcode()));
            }
        }
    }

    /**
     * Sends {@code count} READ(10)s in one write and waits for none of the answers (for tests of a
     * client that stops reading).
     */
    public void sendReads(int count, int lun, int blocks, int blockSize) throws IOException {
        ByteBuffer all = ByteBuffer.allocate(48 * count);
        for (int i = 0; i < count; i++) {
            ByteBuffer h = header(0x01, 0x80 | 0x40 | 0x01, 0);
            h.putShort(8, (short) lun);
            h.putInt(16, itt++);
            h.putInt(20, blocks * blockSize);
            h.putInt(24, cmdSn++);
            h.putInt(28, expStatSn);
            h.put(32, (byte) 0x28);
            h.putInt(34, (i % 16) * blocks);
            h.putShort(39, (short) blocks);
            all.put(h.array());
        }
        out.write(all.array());
        out.flush();
    }

    /** How long a command may wait for its answer (storage may stall for longer than the default 10 s). */
    public void answerTimeout(int seconds) throws IOException {
        socket.setSoTimeout(seconds * 1000);
    }

    /** Shrinks the socket's receive buffer (before a test stops reading). */
    public void smallReceiveBuffer() throws IOException {
        socket.setReceiveBufferSize(64 * 1024);
    }

    /** READ(10) of {@code blocks} blocks of {@code blockSize} bytes. */
    public Response read10(int lun, long lba, int blocks, int blockSize) throws IOException {
        byte[] cdb = new byte[16];
        cdb[0] = 0x28;
        ByteBuffer.wrap(cdb).putInt(2, (int) lba).putShort(7, (short) blocks);
        return command(lun, cdb, blocks * blockSize, null);
    }

    /** WRITE(10) of {@code data} (whole blocks). */
    public Response write10(int lun, long lba, byte[] data, int blockSize) throws IOException {
        byte[] cdb = new byte[16];
        cdb[0] = 0x2A;
        ByteBuffer.wrap(cdb).putInt(2, (int) lba).putShort(7, (short) (data.length / blockSize));
        return command(lun, cdb, 0, data);
    }

    public Response inquiry(int lun) throws IOException {
        byte[] cdb = new byte[16];
        cdb[0] = 0x12;
        cdb[4] = (byte) 96;
        return command(lun, cdb, 96, null);
    }

    /** REPORT LUNS through LUN 0 (which answers it even when masked or absent); the LUN numbers listed. */
    public List<Integer> reportLuns() throws IOException {
        byte[] cdb = new byte[12];
        cdb[0] = (byte) 0xA0;
        ByteBuffer.wrap(cdb).putInt(6, 1024);
        Response r = command(0, cdb, 1024, null);
        if (r.status() != 0) {
            throw new IOException("REPORT LUNS answered status " + r.status());
        }
        ByteBuffer data = ByteBuffer.wrap(r.data());
        List<Integer> luns = new ArrayList<>();
        for (int i = 0; i < data.getInt(0) / 8; i++) {
            luns.add(data.getShort(8 + 8 * i) & 0x3FFF);
        }
        return luns;
    }

    /** WRITE(10) with FUA: the data must be durable before GOOD. */
    public Response write10Fua(int lun, long lba, byte[] data, int blockSize) throws IOException {
        byte[] cdb = new byte[16];
        cdb[0] = 0x2A;
        cdb[1] = 0x08;
        ByteBuffer.wrap(cdb).putInt(2, (int) lba).putShort(7, (short) (data.length / blockSize));
        return command(lun, cdb, 0, data);
    }

    /** SYNCHRONIZE CACHE(10) of the whole LUN. */
    public Response synchronizeCache(int lun) throws IOException {
        byte[] cdb = new byte[16];
        cdb[0] = 0x35;
        return command(lun, cdb, 0, null);
    }

    public Response testUnitReady(int lun) throws IOException {
        return command(lun, new byte[16], 0, null);
    }

    /** Sends a NOP-Out ping and waits for its NOP-In. */
    public void ping() throws IOException {
        ByteBuffer h = header(0x40, 0x80, 0);
        h.putLong(8, 0);
        int tag = itt++;
        h.putInt(16, tag);
        h.putInt(20, 0xFFFFFFFF);
        h.putInt(24, cmdSn);
        h.putInt(28, expStatSn);
        send(h, null);
        while (true) {
            Pdu p = read();
            if (p.opcode() == 0x20 && p.bhs.getInt(16) == tag) {
                expStatSn = p.bhs.getInt(24) + 1;
                return;
            }
            if (p.opcode() == 0x20) {
                answerPing(p);
            } else {
                throw new IOException("unexpected opcode 0x" + Integer.toHexString(p.opcode()) + " while pinging");
            }
        }
    }

    /** Writes raw bytes to the connection (for malformed PDU tests). */
    public void sendRaw(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    /** True once the server has closed the connection (reads until EOF or the timeout). */
    public boolean closedByServer(int timeoutMillis) throws IOException {
        socket.setSoTimeout(timeoutMillis);
        try {
            while (true) {
                if (in.read() < 0) {
                    return true;
                }
            }
        } catch (java.net.SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true; // connection reset
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }

    private void answerPing(Pdu nopIn) throws IOException {
        if (nopIn.bhs.getInt(16) != 0xFFFFFFFF) {
            return;
        }
        ByteBuffer h = header(0x40, 0x80, 0);
        h.putInt(16, 0xFFFFFFFF);
        h.putInt(20, nopIn.bhs.getInt(20));
        h.putInt(24, cmdSn);
        h.putInt(28, expStatSn);
        send(h, null);
    }

    private record Pdu(ByteBuffer bhs, byte[] data) {
        int opcode() {
            return bhs.get(0) & 0x3F;
        }
    }

    private Pdu read() throws IOException {
        byte[] bhs = new byte[48];
        try {
            in.readFully(bhs);
        } catch (EOFException e) {
            throw new EOFException("the target closed the connection");
        }
        ByteBuffer b = ByteBuffer.wrap(bhs);
        int ahs = (bhs[4] & 0xFF) * 4;
        int dsl = b.getInt(4) & 0xFFFFFF;
        in.skipNBytes(ahs);
        byte[] data = new byte[dsl];
        in.readFully(data);
        in.skipNBytes((-dsl) & 3);
        return new Pdu(b, data);
    }

    private static ByteBuffer header(int opcode, int flags, int dataLength) {
        ByteBuffer h = ByteBuffer.allocate(48);
        h.put(0, (byte) opcode).put(1, (byte) flags);
        h.putInt(4, dataLength & 0xFFFFFF);
        return h;
    }

    private void send(ByteBuffer header, byte[] data) throws IOException {
        out.write(header.array());
        if (data != null && data.length > 0) {
            out.write(data);
            out.write(new byte[(-data.length) & 3]);
        }
        out.flush();
    }

    private static byte[] text(Map<String, String> keys) {
        StringBuilder b = new StringBuilder();
        keys.forEach((k, v) -> b.append(k).append('=').append(v).append('\0'));
        return b.toString().getBytes(StandardCharsets.UTF_8);
    }

    public int maxRecvDataSegmentLength() {
        return maxRecv;
    }
}
