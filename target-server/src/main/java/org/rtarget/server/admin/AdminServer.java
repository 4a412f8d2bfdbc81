package org.rtarget.server.admin;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import org.rtarget.config.AdminTlsConfig;
import org.rtarget.config.HostPort;
import org.rtarget.config.ServerConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin HTTP endpoint on its own port and its own event loop (so a slow admin request never
 * stalls iSCSI I/O): JSON for state and actions, Prometheus text at /metrics. Reads (GET) are
 * answered on the loop; actions (POST) run one at a time on their own thread, so a long reload
 * never holds up a scrape.
 *
 * <p>Security ({@code server.admin-token-file}, {@code server.admin-tls}): with a token, every
 * request but {@code GET /healthz} needs {@code Authorization: Bearer TOKEN} and gets 401 without
 * it; with TLS, the endpoint speaks HTTPS only. Listening beyond loopback without a token is
 * refused at start, whatever the configuration was checked for.
 */
public final class AdminServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AdminServer.class);
    /** Answered without a token: says only that the process is up (container health checks). */
    static final String HEALTH_PATH = "/healthz";
    /** A connection with no request for this long is closed (clients that leave keep-alive sockets open). */
    private static final int IDLE_SECONDS = 120;

    private final AdminApi api;
    private final Path tokenFile;
    private final AdminTlsConfig tlsConfig;
    private final Path stateDir;
    private final EventLoopGroup group;
    /**
     * Runs the actions (POST: reload, recover, ploop operations) one at a time, off the event loop:
     * a reload that waits for LUNs to drain must not keep /metrics and /healthz from answering.
     */
    private final ExecutorService actions = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "rtarget-admin-action");
        t.setDaemon(true);
        return t;
    });
    private AdminAuth auth = AdminAuth.none();
    private SslContext tls;
    private Channel channel;

    /** Plain HTTP, no token: loopback only. */
    public AdminServer(AdminApi api) {
        this(api, null, null, null);
    }

    /** With the server section's admin-token-file and admin-tls (self-signed files go under its state-dir). */
    public AdminServer(AdminApi api, ServerConfig server) {
        this(api, server.adminTokenFile(), server.adminTls(), server.stateDir());
    }

    AdminServer(AdminApi api, Path tokenFile, AdminTlsConfig tlsConfig, Path stateDir) {
        this.api = api;
        this.tokenFile = tokenFile;
        this.tlsConfig = tlsConfig;
        this.stateDir = stateDir;
        this.group = new MultiThreadIoEventLoopGroup(1, r -> {
            Thread t = new Thread(r, "rtarget-admin");
            t.setDaemon(true);
            return t;
        }, NioIoHandler.newFactory());
    }

    /**
     * Listens on {@code bind}; returns the address actually bound. Every refusal (a token file that
     * cannot be read, TLS files that do not work, beyond loopback without a token) is an
     * IOException with one line for the operator.
     */
    public HostPort start(HostPort bind) throws IOException {
        if (tokenFile != null) {
            auth = AdminAuth.fromFile(tokenFile);
        }
        if (!auth.required() && !ServerConfig.isLoopback(bind.host()) && !resolvesToLoopback(bind.host())) {
            throw beyondLoopback(bind);
        }
        if (tlsConfig != null) {
            tls = AdminTls.serverContext(tlsConfig, bind, stateDir == null ? Path.of("state") : stateDir);
        }
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(group)
                .channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        if (tls != null) {
                            ch.pipeline().addLast(tls.newHandler(ch.alloc()));
                        }
                        ch.pipeline().addLast(new IdleStateHandler(0, 0, IDLE_SECONDS), new HttpServerCodec(),
                                new HttpObjectAggregator(1 << 20), new Handler());
                    }
                });
        try {
            channel = bootstrap.bind(new InetSocketAddress(bind.host(), bind.port())).sync().channel();
        } catch (Exception e) {
            throw new IOException("cannot listen for the admin API on " + bind + ": " + e.getMessage(), e);
        }
        InetSocketAddress local = (InetSocketAddress) channel.localAddress();
        HostPort bound = new HostPort(local.getAddress().getHostAddress(), local.getPort());
        boolean loopback = local.getAddress().isLoopbackAddress();
        if (!loopback && !auth.required()) {
            // a host name that resolved beyond loopback: the configuration could not tell
            channel.close().awaitUninterruptibly();
            channel = null;
            throw beyondLoopback(bind);
        }
        if (!loopback && tls == null) {
            log.warn("the admin API listens beyond loopback on {} over plain HTTP: its bearer token crosses the "
                    + "network in clear; set server.admin-tls", bound);
        }
        log.info("admin API and /metrics on {}://{}/{}", tls == null ? "http" : "https", bound,
                auth.required() ? " (bearer token required)" : "");
        return bound;
    }

    /** Whether the endpoint speaks HTTPS (after {@link #start}). */
    public boolean tls() {
        return tls != null;
    }

    private static IOException beyondLoopback(HostPort bind) {
        return new IOException("the admin API would listen beyond loopback on " + bind + " without a bearer "
                + "token: set server.admin-token-file (or keep server.admin on 127.0.0.1)");
    }

    /** A host name (not a literal) all of whose addresses are loopback; an unknown one is left to the bind. */
    private static boolean resolvesToLoopback(String host) {
        try {
            java.net.InetAddress[] all = java.net.InetAddress.getAllByName(host);
            for (java.net.InetAddress a : all) {
                if (!a.isLoopbackAddress()) {
                    return false;
                }
            }
            return all.length > 0;
        } catch (java.net.UnknownHostException e) {
            return true; // the bind fails next, with its own message
        }
    }

    @Override
    public void close() {
        if (channel != null) {
            channel.close().awaitUninterruptibly();
        }
        actions.shutdownNow();
        group.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).awaitUninterruptibly();
    }

    private final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
        /** An action runs for this connection: its answer is not written yet (reads are paused meanwhile). */
        private boolean busy;

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
            QueryStringDecoder uri = new QueryStringDecoder(request.uri());
            String method = request.method().name();
            boolean keepAlive = HttpUtil.isKeepAlive(request);
            if (!(method.equals("GET") && uri.path().equals(HEALTH_PATH))
                    && !auth.allows(request.headers().get(HttpHeaderNames.AUTHORIZATION))) {
                log.debug("admin request {} {} from {} refused: no valid bearer token", method, uri.path(),
                        ctx.channel().remoteAddress());
                respond(ctx, AdminApi.Reply.error(401, "a bearer token is required (Authorization: Bearer TOKEN, "
                        + "the token in the server's admin-token-file)"), keepAlive, true);
                return;
            }
            String body = request.content().toString(StandardCharsets.UTF_8);
            if (method.equals("GET")) { // reads of state: cheap, answered on the loop
                respond(ctx, handle(method, request.uri(), uri, body), keepAlive, false);
                return;
            }
            // Answers go out in request order: read no further request until this one is answered.
            busy = true;
            ctx.channel().config().setAutoRead(false);
            try {
                actions.execute(() -> {
                    AdminApi.Reply reply = handle(method, request.uri(), uri, body);
                    ctx.executor().execute(() -> {
                        busy = false;
                        respond(ctx, reply, keepAlive, false);
                        ctx.channel().config().setAutoRead(true);
                    });
                });
            } catch (RejectedExecutionException e) { // closing down
                ctx.close();
            }
        }

        private AdminApi.Reply handle(String method, String rawUri, QueryStringDecoder uri, String body) {
            try {
                return api.handle(method, uri.path(), uri.parameters(), body);
            } catch (RuntimeException e) {
                log.warn("admin request {} {} failed", method, rawUri, e);
                return AdminApi.Reply.error(500, "internal error: " + e);
            }
        }

        private void respond(ChannelHandlerContext ctx, AdminApi.Reply reply, boolean keepAlive, boolean denied) {
            ByteBuf body = Unpooled.copiedBuffer(reply.body(), StandardCharsets.UTF_8);
            FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                    HttpResponseStatus.valueOf(reply.status()), body);
            if (denied) {
                response.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer realm=\"rtarget admin\"");
            }
            response.headers().set(HttpHeaderNames.CONTENT_TYPE, reply.contentType());
            response.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.readableBytes());
            HttpUtil.setKeepAlive(response, keepAlive);
            var future = ctx.writeAndFlush(response);
            if (!keepAlive) {
                future.addListener(ChannelFutureListener.CLOSE);
            }
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
            if (event instanceof IdleStateEvent && !busy) {
                ctx.close();
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            log.debug("admin connection error: {}", cause.toString());
            ctx.close();
        }
    }
}
