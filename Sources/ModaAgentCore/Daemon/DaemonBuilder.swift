import Logging
import Prometheus
import ServiceLifecycle

/// Opens what the daemon's services share (the queue, delivery's connections and drivers, the memory
/// budget) and lists the services in start order. Nothing here listens, delivers or ticks: each
/// service binds and starts in its own run, once the one before it is up.
struct DaemonBuilder {
    let config: AgentConfig
    let key: APIKeyResolver.Resolved
    /// The proxy and CA file each upstream request goes through.
    let network: UpstreamNetwork
    /// Redaction's rules, shared by both ingest paths and reloaded on SIGHUP.
    let redactor: Redactor
    let configPath: String
    let signals: SignalWatcher
    let registry: PrometheusCollectorRegistry?
    let logger: Logger

    /// The services, and the shutdown budget whose limit the group keeps.
    struct Daemon {
        var services: ServiceOrder
        var shutdown: ShutdownBudget
        /// Accepted events so far, for the last log line.
        var metrics: IngestMetrics
    }

    /// What the services share, opened before any of them runs.
    private struct Parts {
        let activated: SocketActivation.Sockets
        let queue: QueueService
        let deliveries: Deliveries
        /// The monitor's read-only connection, when `monitoring.listen` is set.
        let monitorStore: QueueStore?
        let memoryBudget: MemoryBudget
        let metrics = IngestMetrics()
        let notifier = SystemdNotifier()
        let shutdown: ShutdownBudget

        var writer: QueueWriter { queue.writer }
    }

    /// Throws what stops the start: the sockets systemd passed are unusable, the queue is locked or
    /// cannot be opened (the caller turns the error into the exit status).
    func build() async throws -> Daemon {
        let parts = try await open()
        return Daemon(services: services(parts), shutdown: parts.shutdown, metrics: parts.metrics)
    }

    /// Start order; the group stops them in reverse. A new service is one line at its place.
    private func services(_ parts: Parts) -> ServiceOrder {
        var services = ServiceOrder()
        services.append("queue", parts.queue)
        for delivery in parts.deliveries.services(budget: parts.shutdown, logger: logger) {
            services.append(delivery.driver.queueKind.serviceName, delivery)
        }
        if receiversOn(parts.activated) { services.append("http", receivers(parts)) }
        if let monitoring = monitoring(parts) { services.append("monitoring", monitoring) }
        services.append("tail", TailService(queuePath: config.queue.path, tap: parts.writer.tap, logger: logger))
        // The ingest socket last of the listeners: a client that reaches it finds the daemon up, and
        // shutdown stops it first.
        services.append("ingest", ingest(parts))
        // READY=1 once everything before it is up; STOPPING=1 first thing on shutdown.
        services.append("heartbeat", heartbeat(parts))
        services.append("signals", signalHandling(parts), endsGroup: true)
        return services
    }

    private func open() async throws -> Parts {
        // Taken once, before anything else could inherit LISTEN_*: the ingest socket and the receivers' `http` one.
        let activated: SocketActivation.Sockets
        do {
            activated = try SocketActivation.listeningSockets()
        } catch {
            throw DaemonStartError.ingestSocket(error)
        }
        let queue = try QueueService.open(config: config, logger: logger)
        let monitorStore = try config.monitoring.listen.map { _ in
            try QueueStore(operatorPath: config.queue.path, access: .readOnly)
        }
        // The last step that can fail: it shuts its uploader down when it does.
        let deliveries = try await openDeliveries(writer: queue.writer, receiversOn: receiversOn(activated))
        return Parts(
            activated: activated,
            queue: queue,
            deliveries: deliveries,
            monitorStore: monitorStore,
            memoryBudget: MemoryBudget(
                limit: config.memory.maxBufferedBytes,
                maxLineBytes: config.socket.maxLineBytes,
                connectionBytes: IngestConnectionHandler.stateBytes
            ),
            // The group's limit ends the process with a failure when reached; the drain stays inside it.
            shutdown: ShutdownBudget(limit: .seconds(max(1, config.delivery.drainTimeoutSeconds) + 10))
        )
    }

    private func receiversOn(_ activated: SocketActivation.Sockets) -> Bool {
        config.http.listen != nil || activated.http != nil
    }

    private func ingest(_ parts: Parts) -> IngestService {
        IngestService(
            config: config,
            activatedSocket: parts.activated.ingest,
            writer: parts.writer,
            metrics: parts.metrics,
            memoryBudget: parts.memoryBudget,
            budget: parts.shutdown,
            redactor: redactor,
            logger: logger
        )
    }

    private func receivers(_ parts: Parts) -> HTTPIngestService {
        HTTPIngestService(
            config: config,
            activatedSocket: parts.activated.http,
            writer: parts.writer,
            memoryBudget: parts.memoryBudget,
            redactor: redactor,
            logger: logger
        )
    }

    private func monitoring(_ parts: Parts) -> MonitoringService? {
        guard let registry, let address = config.monitoring.listen, let store = parts.monitorStore else { return nil }
        let monitor = Monitor(
            registry: registry,
            store: store,
            delivery: parts.deliveries.events,
            traceDelivery: parts.deliveries.traces,
            writer: parts.writer,
            memory: parts.memoryBudget,
            config: config
        )
        return MonitoringService(address: address, monitor: monitor, logger: logger)
    }

    private func heartbeat(_ parts: Parts) -> Heartbeat {
        let metrics = parts.metrics
        return Heartbeat(
            delivery: parts.deliveries.events,
            writer: parts.writer,
            notifier: parts.notifier,
            budget: parts.memoryBudget,
            traceDelivery: parts.deliveries.traces
        ) { metrics.acceptedEvents.current }
    }

    private func signalHandling(_ parts: Parts) -> SignalService {
        SignalService(
            signals: signals,
            configPath: configPath,
            deliveries: parts.deliveries.drivers,
            uploader: parts.deliveries.uploader,
            redactor: redactor,
            notifier: parts.notifier,
            budget: parts.shutdown,
            logger: logger
        )
    }

    /// Each queue's driver on its own connection (WAL lets it read beside the writer), sharing one
    /// uploader. Trace exports get theirs when the receivers are on or exports wait from an earlier run.
    private func openDeliveries(writer: QueueWriter, receiversOn: Bool) async throws -> Deliveries {
        let settings = DeliverySettings(config: config, apiKey: key.key)
        let uploader = Uploader(connectTimeoutSeconds: min(3, config.delivery.timeoutSeconds), network: network)
        let path = config.queue.path
        do {
            let reader = try QueueStore(path: path, durability: config.queue.durability, create: true)
            let events = try DeliveryDriver(
                reader: reader,
                writer: writer,
                uploader: uploader,
                settings: settings,
                logger: logger
            )
            let traceReader = try QueueStore(path: path, durability: config.queue.durability, create: true)
            // Trace delivery runs when the receivers are on, exports wait from an earlier run, or dead letters
            // could be replayed into its queue while this daemon runs.
            guard try receiversOn || traceReader.traceCounters().queuedExports > 0 || traceReader.deadTraceCount() > 0
            else {
                traceReader.close()
                return Deliveries(events: events, traces: nil, uploader: uploader, writer: writer)
            }
            let traces = try DeliveryDriver.traces(
                reader: traceReader,
                writer: writer,
                uploader: uploader,
                settings: settings,
                logger: logger
            )
            return Deliveries(events: events, traces: traces, uploader: uploader, writer: writer)
        } catch {
            await uploader.shutdown()
            throw error
        }
    }
}

/// The deliveries of both queues and what they share.
private struct Deliveries {
    let events: DeliveryDriver
    let traces: DeliveryDriver?
    let uploader: Uploader
    let writer: QueueWriter

    var drivers: [DeliveryDriver] { [events] + (traces.map { [$0] } ?? []) }

    /// Events' delivery first, so stopped last: it shuts the shared uploader down.
    func services(budget: ShutdownBudget, logger: Logger) -> [DeliveryService] {
        var services = [
            DeliveryService(
                driver: events,
                commits: writer.commits,
                uploader: uploader,
                budget: budget,
                logger: logger
            )
        ]
        if let traces {
            services.append(
                DeliveryService(
                    driver: traces,
                    commits: writer.traceCommits,
                    uploader: nil,
                    budget: budget,
                    logger: logger
                )
            )
        }
        return services
    }
}
