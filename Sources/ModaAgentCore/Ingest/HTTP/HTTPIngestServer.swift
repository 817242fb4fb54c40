import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPCompression
import NIOPosix

/// The HTTP receivers' listener (`http.listen`, docs/protocol.md): TCP or a Unix socket. Requests are read
/// with NIO's HTTP/1.1 codec (pipelined requests answered in order), gzip bodies decoded within
/// `http.maxBodyBytes`, and each connection idle for 60 s closed, so a slow or silent client holds
/// only its own connection.
public struct HTTPIngestServer: Sendable {
    private let channel: any Channel
    private let connections: ConnectionRegistry
    public let listen: AgentConfig.HTTP.Listen
    /// False for a socket systemd passed: its file is systemd's, never unlinked here.
    private let ownsSocketFile: Bool

    /// `activatedSocket`: the listening fd systemd passed as `http` (docs/protocol.md), used instead of
    /// `http.listen`. `socketMode`: the permissions of a `unix:` listener's socket file, as
    /// `socket.mode` for the ingest socket.
    public static func start(
        settings: AgentConfig.HTTP,
        activatedSocket: CInt? = nil,
        socketMode: UInt32,
        maxConnections: Int,
        validator: EventValidator,
        writer: QueueWriter,
        metrics: IngestMetrics,
        budget: MemoryBudget? = nil,
        group: any EventLoopGroup,
        logger: Logger = Logger(label: "moda-agent")
    ) async throws -> HTTPIngestServer? {
        let discards = OTLPDiscards(logger: logger)
        let connections = ConnectionRegistry(limit: maxConnections)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                guard connections.admit(channel, closed: metrics.connectionClosed) else { return channel.close() }
                metrics.connectionOpened()
                return channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(IdleStateHandler(allTimeout: .seconds(60)))
                    try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                    try pipeline.addHandler(NIOHTTPRequestDecompressor(limit: .size(settings.maxBodyBytes)))
                    try pipeline.addHandler(IdleCloser())
                    try pipeline.addHandler(
                        HTTPIngestHandler(
                            settings: settings,
                            validator: validator,
                            writer: writer,
                            metrics: metrics,
                            discards: discards,
                            budget: budget
                        )
                    )
                }
            }
        if let activatedSocket {
            let channel = try await bootstrap.withBoundSocket(activatedSocket).get()
            let listen: AgentConfig.HTTP.Listen
            if let path = channel.localAddress?.pathname {
                listen = .unix(path)
            } else {
                let host = channel.localAddress?.ipAddress ?? "?"
                listen = .tcp(ListenAddress(host: host, port: channel.localAddress?.port ?? 0))
            }
            return HTTPIngestServer(channel: channel, connections: connections, listen: listen, ownsSocketFile: false)
        }
        guard let listen = settings.listen else { return nil }
        let channel: any Channel
        switch listen {
        case .tcp(let address):
            channel = try await bootstrap.bind(host: address.host, port: address.port).get()
        case .unix(let path):
            try UnixSocketPath.clearStale(path)
            channel = try await bootstrap.bind(unixDomainSocketPath: path).get()
            _ = chmod(path, mode_t(socketMode))
        }
        let bound: AgentConfig.HTTP.Listen
        if case .tcp(let address) = listen, let port = channel.localAddress?.port {
            bound = .tcp(ListenAddress(host: address.host, port: port))
        } else {
            bound = listen
        }
        return HTTPIngestServer(channel: channel, connections: connections, listen: bound, ownsSocketFile: true)
    }

    /// Stops accepting, lets requests being committed finish (the writer answers them), then closes.
    public func stop(writer: QueueWriter) async {
        try? await channel.close()
        if ownsSocketFile, case .unix(let path) = listen { unlink(path) }
        await writer.idle()
        await connections.closeAll()
    }
}

/// Closes a connection that has been idle for the `IdleStateHandler`'s time.
private final class IdleCloser: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}
