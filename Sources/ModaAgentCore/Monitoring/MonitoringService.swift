import Logging
import NIOPosix
import ServiceLifecycle

/// `monitoring.listen`: binds it in its own run, then keeps the monitor's sample fresh (once a second:
/// `/health` counts how long delivery has been retrying from it) until shutdown, and closes the
/// listener. Up before the ingest socket and down after it, so a drain can be watched.
struct MonitoringService: DaemonService {
    let address: ListenAddress
    let monitor: Monitor
    let logger: Logger

    func run(up: @escaping @Sendable () -> Void) async throws {
        let server: MonitoringServer
        do {
            server = try await MonitoringServer.start(
                address: address,
                monitor: monitor,
                group: MultiThreadedEventLoopGroup.singleton
            )
        } catch {
            monitor.close()
            throw DaemonStartError.listen(setting: "monitoring.listen", address: "\(address)", error)
        }
        logger.info("monitoring", metadata: ["listen": "\(server.address)"])
        up()
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                monitor.sample()
                try await Task.sleep(for: .seconds(1))
            }
        }
        await server.close()
        monitor.close()
    }
}
