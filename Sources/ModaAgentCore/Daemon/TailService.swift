import Logging
import NIOPosix
import ServiceLifecycle

/// The tail socket of `modactl tail` and `trace` (docs/tracing.md): bound in its own run, closed on
/// shutdown. The daemon runs without it when it cannot be bound: following the flow is never worth
/// refusing to forward it.
struct TailService: DaemonService {
    let queuePath: String
    let tap: FlowTap
    let logger: Logger

    func run(up: @escaping @Sendable () -> Void) async throws {
        let server: TailServer?
        do {
            server = try await TailServer.start(queuePath: queuePath, tap: tap, group: MultiThreadedEventLoopGroup.singleton)
        } catch {
            logger.warning(
                "no tail socket: `modactl tail` and in-flight states of `trace` are unavailable",
                metadata: ["error": "\(error)"]
            )
            server = nil
        }
        up()
        try? await gracefulShutdown()
        await server?.stop()
    }
}
