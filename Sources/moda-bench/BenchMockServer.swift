import NIOCore
import NIOHTTP1
import NIOPosix

/// A lean stand-in for the Moda ingest API, in process, on 127.0.0.1 and a port the kernel
/// picks: one event-loop thread, HTTP/1.1 keep-alive, nothing recorded but counters (the test
/// suite's MockModaServer keeps every body, too heavy for a million events). Its ceiling is
/// measured by `MockCeilingProbe` and printed beside the agent's figures.
final class BenchMockServer: Sendable {
    let port: Int
    let stats: MockStats
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel

    var endpoint: String { "http://127.0.0.1:\(port)/v1/ingest" }

    private init(port: Int, stats: MockStats, group: MultiThreadedEventLoopGroup, channel: any Channel) {
        self.port = port
        self.stats = stats
        self.group = group
        self.channel = channel
    }

    static func start() throws(BenchFailure) -> BenchMockServer {
        let stats = MockStats()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(BenchMockHandler(stats: stats))
                }
            }
        do {
            let channel = try bootstrap.bind(host: "127.0.0.1", port: 0).wait()
            guard let port = channel.localAddress?.port else {
                throw BenchFailure("the mock server has no port")
            }
            return BenchMockServer(port: port, stats: stats, group: group, channel: channel)
        } catch {
            try? group.syncShutdownGracefully()
            throw BenchFailure("cannot start the mock server: \(error)")
        }
    }

    func shutdown() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }
}
