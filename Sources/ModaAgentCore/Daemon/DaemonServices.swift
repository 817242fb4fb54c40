import FoundationEssentials
import Logging
import ServiceLifecycle

/// Delivery of one queue (started by the wiring, before the socket): follows the writer's commits
/// of that queue (`commits`: events or trace exports) until shutdown, then drains up to
/// `delivery.drainTimeoutSeconds` counted from the signal.
struct DeliveryService: Service {
    let driver: DeliveryDriver
    let commits: AsyncStream<QueueWriter.Commit>
    /// Shut down when this delivery stops; nil when another delivery, stopped later, owns it.
    let uploader: Uploader?
    let budget: ShutdownBudget
    let logger: Logger

    func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await commit in commits { driver.committed(commit) }
            }
            // Cancelled rather than asked to stop: no drain, what is queued waits for the next start.
            let graceful = (try? await gracefulShutdown()) != nil
            let deadline = budget.drainDeadline(seconds: driver.drainTimeoutSeconds)
            let drained = graceful ? await driver.drain(until: deadline) : false
            driver.stop()
            group.cancelAll()
            await uploader?.shutdown()
            let left = driver.snapshot().queuedEvents
            let (name, what, key) =
                driver.isTraces
                ? ("trace delivery", "trace exports", "export_count") : ("delivery", "events", "event_count")
            logger.info(
                drained
                    ? "\(name) stopped; queue empty" : "\(name) stopped; \(what) wait in the queue for the next start",
                metadata: ["\(key)": "\(left)"]
            )
        }
    }
}

/// The ingest socket, bound before the group starts: on shutdown it stops accepting, then lets
/// every connection queue and acknowledge the lines it has read.
struct IngestService: Service {
    let server: IngestServer
    let writer: QueueWriter
    let budget: ShutdownBudget
    let drainTimeoutSeconds: Double

    func run() async throws {
        try? await gracefulShutdown()
        budget.begin()
        await server.stopAccepting()
        await server.drain(timeout: .seconds(max(1, min(5, drainTimeoutSeconds))))
        await writer.idle()
    }
}

/// SIGHUP reloads delivery settings and the API key, SIGUSR1 flushes; SIGTERM/SIGINT end this
/// service, which shuts the group down gracefully. The handlers are installed by `SignalWatcher`
/// before the socket accepts anything, and signals wait in its stream until this runs.
struct SignalService: Service {
    let signals: SignalWatcher
    let configPath: String
    let delivery: DeliveryDriver
    /// Trace exports' delivery, when the HTTP receivers are on.
    let traceDelivery: DeliveryDriver?
    let notifier: SystemdNotifier
    let budget: ShutdownBudget
    let logger: Logger
    /// Redaction's rules are reloaded with the rest.
    var redactor: Redactor? = nil

    func run() async throws {
        for await signal in signals.signals.cancelOnGracefulShutdown() {
            switch signal {
            case .flush:
                delivery.flush()
                traceDelivery?.flush()
            case .reload:
                reload()
            case .terminate:
                budget.begin()
                logger.info("shutting down: finishing lines already read, then draining deliveries")
                return
            }
        }
    }

    private func reload() {
        notifier.reloading()
        do {
            let fresh = try ConfigLoader.load(path: configPath)
            let key = try APIKeyResolver.resolve(config: fresh, environment: ProcessInfo.processInfo.environment)
            try redactor?.reload(fresh.redaction, configPath: configPath)
            delivery.reload(DeliverySettings(config: fresh, apiKey: key.key))
            traceDelivery?.reload(DeliverySettings(config: fresh, apiKey: key.key))
            logger.info("configuration reloaded", metadata: ["api_key_source": "\(key.source.rawValue)"])
        } catch {
            logger.error("reload failed, keeping the running configuration: \(error)")
        }
        notifier.readyAfterReload()
    }
}
