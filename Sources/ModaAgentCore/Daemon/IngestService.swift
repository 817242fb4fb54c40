import Logging
import NIOPosix
import ServiceLifecycle

/// The ingest socket: binds it (or adopts systemd's) in its own run, after delivery and the other
/// listeners are up; first down on shutdown: stops accepting, then lets every connection queue and
/// acknowledge the lines it has read.
struct IngestService: DaemonService {
    let config: AgentConfig
    let activatedSocket: CInt?
    let writer: QueueWriter
    let metrics: IngestMetrics
    let memoryBudget: MemoryBudget
    let budget: ShutdownBudget
    /// Applied to every event after validation, before the queue (docs/redaction.md).
    let redactor: Redactor
    let logger: Logger

    func run(up: @escaping @Sendable () -> Void) async throws {
        let server: IngestServer
        do {
            server = try await IngestServer.start(
                config: config,
                activatedSocket: activatedSocket,
                validator: EventValidator(
                    maxEventBytes: config.batch.maxEventBytes,
                    defaultEnvironment: config.environment,
                    redactor: redactor
                ),
                writer: writer,
                metrics: metrics,
                budget: memoryBudget,
                group: MultiThreadedEventLoopGroup.singleton,
                logger: logger
            )
        } catch let error as IngestError {
            throw error
        } catch {
            throw DaemonStartError.ingestSocket(error)
        }
        up()
        try? await gracefulShutdown()
        budget.begin()
        await server.stopAccepting()
        await server.drain(timeout: .seconds(max(1, min(5, config.delivery.drainTimeoutSeconds))))
        await writer.idle()
    }
}

/// The HTTP receivers (`http.listen`, or the `http` socket systemd passed): bound before the ingest
/// socket, stopped after it.
struct HTTPIngestService: DaemonService {
    let config: AgentConfig
    let activatedSocket: CInt?
    let writer: QueueWriter
    let memoryBudget: MemoryBudget
    let redactor: Redactor
    let logger: Logger

    func run(up: @escaping @Sendable () -> Void) async throws {
        let receivers: HTTPIngestServer?
        do {
            receivers = try await HTTPIngestServer.start(
                settings: config.http,
                activatedSocket: activatedSocket,
                socketMode: config.socket.modeBits,
                maxConnections: config.socket.maxConnections,
                validator: EventValidator(
                    maxEventBytes: config.batch.maxEventBytes,
                    defaultEnvironment: config.environment,
                    redactor: redactor
                ),
                writer: writer,
                metrics: IngestMetrics(source: "http"),
                budget: memoryBudget,
                group: MultiThreadedEventLoopGroup.singleton,
                logger: logger
            )
        } catch {
            let address = config.http.listen.map { "\($0)" } ?? ""
            throw DaemonStartError.listen(setting: "http.listen", address: address, error)
        }
        if let receivers { logger.info("HTTP receivers", metadata: ["listen": "\(receivers.listen)"]) }
        up()
        try? await gracefulShutdown()
        await receivers?.stop(writer: writer)
    }
}
