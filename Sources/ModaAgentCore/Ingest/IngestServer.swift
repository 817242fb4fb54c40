import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// The listening Unix socket: accepts connections up to `socket.maxConnections` and gives each its
/// own `IngestConnectionHandler`. Shutdown is two steps: stop accepting, then let every connection
/// finish the lines it has read.
public struct IngestServer: Sendable {
    private let serverChannel: any Channel
    private let connections: ConnectionRegistry
    public let path: String
    private let ownsSocketFile: Bool

    /// Binds `config.socket.path` (clearing a stale file first) or adopts `activatedSocket`, the
    /// listening fd systemd passed; an adopted socket is never unlinked or re-created.
    public static func start(
        config: AgentConfig,
        activatedSocket: CInt?,
        validator: EventValidator,
        writer: QueueWriter,
        metrics: IngestMetrics,
        budget: MemoryBudget,
        group: any EventLoopGroup,
        logger: Logger
    ) async throws -> IngestServer {
        let connections = ConnectionRegistry(limit: config.socket.maxConnections)
        let maxConnections = config.socket.maxConnections
        let maxLineBytes = config.socket.maxLineBytes
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 512)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 64 * 1024, high: 512 * 1024))
            // NIO's receive-buffer pool keeps this many buffers per connection: IngestRecvAllocator makes
            // them small, and asks the budget before every read.
            .childChannelOption(.maxMessagesPerRead, value: UInt(IngestRecvAllocator.readsPerBurst))
            .childChannelInitializer { channel in
                guard connections.admit(channel, closed: metrics.connectionClosed) else {
                    return channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(OverLimitHandler(maxConnections: maxConnections))
                    }
                }
                metrics.connectionOpened()
                return channel.eventLoop.makeCompletedFuture {
                    let handler = IngestConnectionHandler(
                        maxLineBytes: maxLineBytes,
                        validator: validator,
                        writer: writer,
                        metrics: metrics,
                        budget: budget
                    )
                    try channel.syncOptions?.setOption(
                        .recvAllocator,
                        value: IngestRecvAllocator(budget: budget, ticket: handler.ticket)
                    )
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }

        let path = config.socket.path
        if let activatedSocket {
            let channel = try await bootstrap.withBoundSocket(activatedSocket).get()
            logger.info("listening on the socket systemd passed", metadata: ["socket": "\(path)"])
            return IngestServer(serverChannel: channel, connections: connections, path: path, ownsSocketFile: false)
        }
        // Like systemd's /run/moda-agent (RuntimeDirectoryMode=0755): clients must reach the socket, whose own
        // mode then decides who may write; the daemon's umask 0077 would shut them out.
        try? QueueFiles.makeFolder(QueueFiles.folder(of: path), mode: 0o755)
        if let problem = FolderAccess.problem(folder: QueueFiles.folder(of: path), setting: "socket.path") {
            throw IngestError.folderNotWritable(problem: problem)
        }
        try UnixSocketPath.clearStale(path)
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(unixDomainSocketPath: path).get()
        } catch {
            throw IngestError.cannotBind(path: path, reason: "\(error)")
        }
        if chmod(path, mode_t(config.socket.modeBits)) != 0 {
            let reason = String(cString: strerror(errno))
            try? await channel.close()
            throw IngestError.cannotSetMode(path: path, mode: config.socket.mode, reason: reason)
        }
        logger.info("listening", metadata: ["socket": "\(path)", "mode": "\(config.socket.mode)"])
        return IngestServer(serverChannel: channel, connections: connections, path: path, ownsSocketFile: true)
    }

    /// Stops accepting; connections already open carry on until `drain`.
    public func stopAccepting() async {
        try? await serverChannel.close()
        if ownsSocketFile { unlink(path) }
    }

    /// Asks every connection to finish the lines it has read (commit, reply, close) and waits up to
    /// `timeout` for them; the caller then stops the writer.
    public func drain(timeout: Duration) async {
        let open = connections.channels
        for channel in open {
            channel.pipeline.fireUserInboundEventTriggered(IngestConnectionHandler.DrainEvent())
        }
        if !open.isEmpty {
            // Whichever comes first: every connection closed, or the timeout.
            let loop = serverChannel.eventLoop
            let done = loop.makePromise(of: Void.self)
            let completed = NIOLockedValueBox(false)
            let finish: @Sendable () -> Void = {
                if completed.withLockedValue({ done in
                    defer { done = true }; return !done
                }) {
                    done.succeed()
                }
            }
            EventLoopFuture.andAllComplete(open.map(\.closeFuture), on: loop).whenComplete { _ in finish() }
            let timer = loop.scheduleTask(
                in: .nanoseconds(
                    Int64(timeout.components.seconds) * 1_000_000_000
                        + timeout.components.attoseconds / 1_000_000_000
                )
            ) { finish() }
            try? await done.futureResult.get()
            timer.cancel()
        }
        await connections.closeAll()
    }

    public var openConnections: Int { connections.count }
}
