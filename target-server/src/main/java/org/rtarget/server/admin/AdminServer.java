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
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import org.rtarget.config.HostPort;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin HTTP endpoint on its own port and its own event loop (so a slow admin request never
 * stalls iSCSI I/O): JSON for state and actions, Prometheus text at /metrics.
 */
public final class AdminServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AdminServer.class);

    private final AdminApi api;
    private final EventLoopGroup group;
    private Channel channel;

    public AdminServer(AdminApi api) {
        this.api = api;
        this.group = new MultiThreadIoEventLoopGroup(1, r -> {
            Thread t = new Thread(r, "rtarget-admin");
            t.setDaemon(true);
            return t;
        }, NioIoHandler.newFactory());
    }

    /** Listens on {@code bind}; returns the address actually bound. */
    public HostPort start(HostPort bind) throws IOException {
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(group)
                .channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(1 << 20), new Handler());
                    }
                });
        try {
            channel = bootstrap.bind(new InetSocketAddress(bind.host(), bind.port())).sync().channel();
        } catch (Exception e) {
            throw new IOException("cannot listen for the admin API on " + bind + ": " + e.getMessage(), e);
        }
        InetSocketAddress local = (InetSocketAddress) channel.localAddress();
        HostPort bound = new HostPort(local.getAddress().getHostAddress(), local.getPort());
        if (!local.getAddress().isLoopbackAddress()) {
            log.warn("the admin API listens beyond loopback on {} without authentication", bound);
        }
        log.info("admin API and /metrics on http://{}/", bound);
        return bound;
    }

    @Override
    public void close() {
        if (channel != null) {
            channel.close().awaitUninterruptibly();
        }
        group.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).awaitUninterruptibly();
    }

    private final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
            QueryStringDecoder uri = new QueryStringDecoder(request.uri());
            AdminApi.Reply reply;
            try {
                reply = api.handle(request.method().name(), uri.path(), uri.parameters(),
                        request.content().toString(StandardCharsets.UTF_8));
            } catch (RuntimeException e) {
                log.warn("admin request {} {} failed", request.method(), request.uri(), e);
                reply = AdminApi.Reply.error(500, "internal error: " + e);
            }
            ByteBuf body = Unpooled.copiedBuffer(reply.body(), StandardCharsets.UTF_8);
            FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                    HttpResponseStatus.valueOf(reply.status()), body);
            response.headers().set(HttpHeaderNames.CONTENT_TYPE, reply.contentType());
            response.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.readableBytes());
            boolean keepAlive = HttpUtil.isKeepAlive(request);
            HttpUtil.setKeepAlive(response, keepAlive);
            var future = ctx.writeAndFlush(response);
            if (!keepAlive) {
                future.addListener(ChannelFutureListener.CLOSE);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            log.debug("admin connection error: {}", cause.toString());
            ctx.close();
        }
    }
}
