import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// An in-process stand-in for the Moda ingest API, on `127.0.0.1` and a free port.
///
/// It records every request, answers as the installed `MockBehavior` says (success by default),
/// and keeps the raw JSON of every event it accepted, in arrival order. Keep-alive and pipelining
/// work as with a real server; one event-loop thread answers thousands of requests a second.
///
///     let server = try await MockModaServer.start()
///     server.respond(.failing(first: 3, with: .status(503, message: "busy", retryable: true)))
///     // … point the agent at server.endpoint …
///     #expect(await server.waitForDeliveredCount(10, timeout: .seconds(5)))
///     try await server.shutdown()
public final class MockModaServer: Sendable {
    /// The URL to configure as the agent's `endpoint`.
    public let endpoint: String
    public let port: Int
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    private let recorder: MockServerRecorder
    private let isShutDown = MockLocked(false)

    private init(
        group: MultiThreadedEventLoopGroup,
        channel: any Channel,
        port: Int,
        recorder: MockServerRecorder,
        scheme: String
    ) {
        self.group = group
        self.channel = channel
        self.port = port
        self.recorder = recorder
        self.endpoint = "\(scheme)://127.0.0.1:\(port)/v1/ingest"
    }

    /// Starts listening on `127.0.0.1`. `port` 0 (the default) picks a free port; a fixed port
    /// lets a test stop the server and start it again where the agent expects it. `.countOnly`
    /// keeps nothing but counts (see `MockRecording`). With `tls` it serves HTTPS (`endpoint` says https://).
    public static func start(
        port: Int = 0,
        recording: MockRecording = .full,
        tls: TLSConfiguration? = nil
    ) async throws -> MockModaServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            let context = try tls.map { try NIOSSLContext(configuration: $0) }
            return try await bind(group: group, port: port, recording: recording, tls: context).get()
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    /// `start` for synchronous callers (the benchmark); blocks until the server listens.
    public static func startBlocking(port: Int = 0, recording: MockRecording = .full) throws -> MockModaServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            return try bind(group: group, port: port, recording: recording).wait()
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
    }

    private static func bind(
        group: MultiThreadedEventLoopGroup,
        port: Int,
        recording: MockRecording,
        tls: NIOSSLContext? = nil
    ) -> EventLoopFuture<MockModaServer> {
        let recorder = MockServerRecorder(recording: recording)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(MockHTTPHandler(recorder: recorder))
                }
            }
        return bootstrap.bind(host: "127.0.0.1", port: port).flatMapThrowing { channel in
            guard let boundPort = channel.localAddress?.port else {
                channel.close(promise: nil)
                throw MockServerError.noPort
            }
            return MockModaServer(
                group: group,
                channel: channel,
                port: boundPort,
                recorder: recorder,
                scheme: tls == nil ? "http" : "https"
            )
        }
    }

    /// Closes the listener and every connection. Safe to call more than once.
    public func shutdown() async throws {
        guard claimShutdown() else { return }
        try? await channel.close()
        try await group.shutdownGracefully()
    }

    /// `shutdown` for synchronous callers.
    public func shutdownBlocking() throws {
        guard claimShutdown() else { return }
        try? channel.close().wait()
        try group.syncShutdownGracefully()
    }

    /// True for the first caller only.
    private func claimShutdown() -> Bool {
        isShutDown.withLock { done in
            defer { done = true }
            return !done
        }
    }

    // MARK: - Behaviour

    /// Replaces how requests are answered, from the next request on.
    public func respond(_ behavior: MockBehavior) {
        recorder.setBehavior(behavior)
    }

    /// Replaces how requests are answered with a closure, from the next request on.
    public func respond(_ handler: @escaping @Sendable (MockRequest) -> MockReply) {
        recorder.setBehavior(MockBehavior(handler))
    }

    // MARK: - Records

    /// Every request received, in arrival order.
    public var requests: [MockRequest] { recorder.requests }

    public var requestCount: Int { recorder.requestCount }

    /// The most requests the server held unanswered at once (received, reply not yet written) since the
    /// last call; each call starts counting again from the requests unanswered now.
    public func takePeakUnanswered() -> Int { recorder.takePeakUnanswered() }

    /// The raw JSON of each event in each batch answered with success, in arrival order.
    /// A batch sent again after a lost answer appears again: delivery is at-least-once.
    public var deliveredEvents: [String] { recorder.deliveredEvents }

    /// Every `/v1/traces` request answered with success (`.success` answers them as an OTLP
    /// receiver does), in arrival order: their bodies as the agent relayed them.
    public var deliveredTraces: [MockRequest] { recorder.deliveredTraces }

    /// How many events were delivered, without copying them (for large runs).
    public var deliveredCount: Int { recorder.deliveredCount }

    /// What was answered since the last `resetTally`, kept in both recording modes.
    public var tally: MockTally { recorder.tally }

    /// Starts a new tally; the moment it holds `target` delivered events is stamped.
    public func resetTally(target: Int = .max) {
        recorder.resetTally(target: target)
    }

    /// TCP connections accepted so far (keep-alive keeps this low).
    public var connectionCount: Int { recorder.connectionCount }

    /// Waits until at least `count` events were delivered; false if `timeout` passed first.
    public func waitForDeliveredCount(_ count: Int, timeout: Duration) async -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while recorder.deliveredCount < count {
            guard clock.now < deadline, !Task.isCancelled else { return false }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return true
    }
}
