import ServiceLifecycle

/// The tail socket of `modactl tail` and `trace` (docs/tracing.md), closed on shutdown. The daemon
/// runs without it when it cannot be bound: following the flow is never worth refusing to forward it.
struct TailService: Service {
    let server: TailServer

    func run() async throws {
        try? await gracefulShutdown()
        await server.stop()
    }
}
