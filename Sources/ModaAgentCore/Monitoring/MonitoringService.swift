import ServiceLifecycle

/// Keeps the monitor's sample fresh (once a second: `/health` counts how long delivery has been
/// retrying from it) while the daemon runs; closes the listener on shutdown. Started last and so
/// stopped first: a scrape during shutdown finds nothing rather than a half-stopped daemon.
struct MonitoringService: Service {
    let server: MonitoringServer
    let monitor: Monitor

    func run() async throws {
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
