import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// The monitoring listener (docs/monitoring.md): `GET /metrics` and `GET /health` over HTTP/1.1, apart from
/// the receivers. A scraper or a hostile client here cannot stall ingest or delivery: requests
/// are small GETs answered from a sample, a connection idle for 10 s is closed, a request body
/// over 8 KiB or headers over NIO's limit end the connection, and at most 32 connections are open.
public final class MonitoringServer: Sendable {
    static let maxConnections = 32
    static let maxBodyBytes = 8 * 1024

    private let channel: any Channel
    public let address: ListenAddress

    private init(channel: any Channel, address: ListenAddress) {
        self.channel = channel
        self.address = address
    }

    /// Binds `address`; the bound port is in `address` (0 asks for any free one).
    public static func start(
        address: ListenAddress,
        monitor: Monitor,
        group: any EventLoopGroup
    ) async throws -> MonitoringServer {
        let open = NIOLockedValueBox(0)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                let admitted = open.withLockedValue { count -> Bool in
                    guard count < maxConnections else { return false }
                    count += 1
                    return true
                }
                guard admitted else { return channel.close() }
                channel.closeFuture.whenComplete { _ in open.withLockedValue { $0 -= 1 } }
                return channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(IdleStateHandler(allTimeout: .seconds(10)))
                    try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                    try pipeline.addHandler(MonitoringHTTPHandler(monitor: monitor))
                }
            }
            .bind(host: address.host, port: address.port).get()
        let port = channel.localAddress?.port ?? address.port
        return MonitoringServer(channel: channel, address: ListenAddress(host: address.host, port: port))
    }

    public func close() async {
        try? await channel.close()
    }
}

/// One connection's requests: routes, and closes idle connections.
final class MonitoringHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let monitor: Monitor
    private var head: HTTPRequestHead?
    private var bodyBytes = 0

    init(monitor: Monitor) {
        self.monitor = monitor
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request):
            head = request
            bodyBytes = 0
        case .body(let chunk):
            bodyBytes += chunk.readableBytes
            if bodyBytes > MonitoringServer.maxBodyBytes {
                respond(context: context, status: .payloadTooLarge, type: "application/json", body: #"{"error":"request body too large"}"#, close: true)
                head = nil
            }
        case .end:
            guard let request = head else { return }
            head = nil
            route(request, context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func route(_ request: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = request.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.uri
        guard path == "/metrics" || path == "/health" else {
            respond(context: context, status: .notFound, type: "application/json", body: #"{"error":"not found; try /metrics or /health"}"#, close: !request.isKeepAlive)
            return
        }
        guard request.method == .GET || request.method == .HEAD else {
            respond(context: context, status: .methodNotAllowed, type: "application/json", body: #"{"error":"method not allowed; use GET"}"#, close: !request.isKeepAlive, allow: true)
            return
        }
        if path == "/metrics" {
            var buffer = context.channel.allocator.buffer(capacity: 8192)
            buffer.writeBytes(monitor.metricsText())
            respond(context: context, status: .ok, type: "text/plain; version=0.0.4; charset=utf-8", buffer: buffer, close: !request.isKeepAlive, headOnly: request.method == .HEAD)
        } else {
            let report = monitor.health()
            respond(context: context, status: report.healthy ? .ok : .serviceUnavailable, type: "application/json", body: report.json, close: !request.isKeepAlive, headOnly: request.method == .HEAD)
        }
    }

    private func respond(
        context: ChannelHandlerContext,
        status: HTTPResponseStatus,
        type: String,
        body: String,
        close: Bool,
        allow: Bool = false,
        headOnly: Bool = false
    ) {
        var buffer = context.channel.allocator.buffer(capacity: body.utf8.count)
        buffer.writeString(body)
        respond(context: context, status: status, type: type, buffer: buffer, close: close, allow: allow, headOnly: headOnly)
    }

    private func respond(
        context: ChannelHandlerContext,
        status: HTTPResponseStatus,
        type: String,
        buffer: ByteBuffer,
        close: Bool,
        allow: Bool = false,
        headOnly: Bool = false
    ) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: type)
        headers.add(name: "Content-Length", value: String(buffer.readableBytes))
        if allow { headers.add(name: "Allow", value: "GET, HEAD") }
        if close { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        if !headOnly { context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil) }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if close {
            done.whenComplete { [channel = context.channel] _ in channel.close(promise: nil) }
        }
    }
}
