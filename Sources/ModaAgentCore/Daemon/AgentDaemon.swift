import CoreMetrics
import Logging
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle

/// The daemon's wiring: opens the queue and binds the socket (the failures that decide the exit
/// status), then runs the long-lived parts as a service group. They start in dependency order
/// (queue, delivery, ingest, heartbeat, signals) and stop in reverse on SIGTERM/SIGINT, per SPEC 6.
public enum AgentDaemon {
    /// Runs until SIGTERM/SIGINT; returns the process exit status.
    public static func run(configPath: String, environment: [String: String]) async -> Int32 {
        let config: AgentConfig
        let key: APIKeyResolver.Resolved
        do {
            config = try ConfigLoader.load(path: configPath)
            key = try APIKeyResolver.resolve(config: config, environment: environment)
        } catch {
            StandardError.line("moda-agent: \(error)")
            return ExitStatus.configuration
        }
        LoggingSetup.bootstrap(level: Logger.Level(rawValue: config.log.level) ?? .info)
        let logger = {
            var logger = Logger(label: "moda-agent")
            logger.logLevel = Logger.Level(rawValue: config.log.level) ?? .info
            return logger
        }()
        // Before the socket exists: an early SIGTERM is never the default "die at once".
        let signals = SignalWatcher()
        // Before any part creates its instruments; without a listener they stay no-ops.
        let registry = config.monitoring.listen.map { _ in PrometheusCollectorRegistry() }
        if let registry { MetricsSystem.bootstrap(PrometheusFactory(registry: registry)) }
        ResourceLimits.raiseOpenFileLimit()
        // Taken once, before anything else could inherit LISTEN_*: the ingest socket and the receivers' `http` one.
        let activated: SocketActivation.Sockets
        do {
            activated = try SocketActivation.listeningSockets()
        } catch {
            logger.critical("cannot start the ingest socket: \(error)")
            return ExitStatus.failure
        }
        let receiversOn = config.http.listen != nil || activated.http != nil

        let queue: QueueService
        let reader: QueueStore
        // The queue holds conversation text: every file the daemon creates is its user's alone, whatever
        // umask it inherited (outside systemd, which sets UMask=0077 itself).
        umask(0o077)
        do {
            queue = try QueueService.open(config: config, logger: logger)
            // Delivery's own connection: WAL lets it read beside the writer.
            reader = try QueueStore(path: config.queue.path, durability: config.queue.durability, create: true)
        } catch {
            logger.critical("\(error)")
            if case .locked = error { return ExitStatus.alreadyRunning }
            return ExitStatus.failure
        }
        defer { reader.close() }
        let writer = queue.writer
        // Trace exports' own connection, when the receivers are on or exports wait from an earlier run.
        let traceReader: QueueStore?
        do {
            let reader = try QueueStore(path: config.queue.path, durability: config.queue.durability, create: true)
            let waiting = try reader.traceCounters().queuedExports
            if receiversOn || waiting > 0 {
                traceReader = reader
            } else {
                reader.close()
                traceReader = nil
            }
        } catch {
            logger.critical("\(error)")
            return ExitStatus.failure
        }
        defer { traceReader?.close() }

        let uploader = Uploader(connectTimeoutSeconds: min(3, config.delivery.timeoutSeconds))
        let delivery: DeliveryDriver
        let traceDelivery: DeliveryDriver?
        do {
            delivery = try DeliveryDriver(
                reader: reader,
                writer: writer,
                uploader: uploader,
                settings: DeliverySettings(config: config, apiKey: key.key),
                logger: logger
            )
            traceDelivery = try traceReader.map { traceReader throws(QueueError) in
                try DeliveryDriver.traces(
                    reader: traceReader,
                    writer: writer,
                    uploader: uploader,
                    settings: DeliverySettings(config: config, apiKey: key.key),
                    logger: logger
                )
            }
        } catch {
            logger.critical("\(error)")
            await uploader.shutdown()
            return ExitStatus.failure
        }
        // Dependency order: delivery records its state and starts on the backlog before the socket
        // accepts anything; commits made meanwhile wait in the writer's stream for DeliveryService.
        delivery.start()
        traceDelivery?.start()
        let metrics = IngestMetrics()
        let memoryBudget = MemoryBudget(
            limit: config.memory.maxBufferedBytes,
            maxLineBytes: config.socket.maxLineBytes,
            connectionBytes: IngestConnectionHandler.stateBytes
        )
        let server: IngestServer
        do {
            server = try await IngestServer.start(
                config: config,
                activatedSocket: activated.ingest,
                validator: EventValidator(
                    maxEventBytes: config.batch.maxEventBytes,
                    defaultEnvironment: config.environment
                ),
                writer: writer,
                metrics: metrics,
                budget: memoryBudget,
                group: MultiThreadedEventLoopGroup.singleton,
                logger: logger
            )
        } catch {
            logger.critical(error is IngestError ? "\(error)" : "cannot start the ingest socket: \(error)")
            delivery.stop()
            traceDelivery?.stop()
            await uploader.shutdown()
            if case .socketInUse = error as? IngestError { return ExitStatus.alreadyRunning }
            return ExitStatus.failure
        }
        let receivers: HTTPIngestServer?
        do {
            receivers = try await HTTPIngestServer.start(
                settings: config.http,
                activatedSocket: activated.http,
                socketMode: config.socket.modeBits,
                maxConnections: config.socket.maxConnections,
                validator: EventValidator(
                    maxEventBytes: config.batch.maxEventBytes,
                    defaultEnvironment: config.environment
                ),
                writer: writer,
                metrics: IngestMetrics(source: "http"),
                budget: memoryBudget,
                group: MultiThreadedEventLoopGroup.singleton,
                logger: logger
            )
            if let receivers { logger.info("HTTP receivers", metadata: ["listen": "\(receivers.listen)"]) }
        } catch {
            let listen = config.http.listen.map { "\($0)" } ?? ""
            logger.critical("cannot listen on http.listen \(listen): \(error); free the port or change the setting")
            await server.stopAccepting()
            delivery.stop()
            traceDelivery?.stop()
            await uploader.shutdown()
            return ExitStatus.failure
        }
        var tailServices: [ServiceGroupConfiguration.ServiceConfiguration] = []
        do {
            let tail = try await TailServer.start(
                queuePath: config.queue.path,
                tap: writer.tap,
                group: MultiThreadedEventLoopGroup.singleton
            )
            tailServices.append(.init(service: TailService(server: tail), serviceName: "tail"))
        } catch {
            logger.warning(
                "no tail socket: `modactl tail` and in-flight states of `trace` are unavailable",
                metadata: ["error": "\(error)"]
            )
        }
        var monitoring: MonitoringService?
        if let registry, let address = config.monitoring.listen {
            do {
                let monitor = Monitor(
                    registry: registry,
                    store: try QueueStore(operatorPath: config.queue.path, access: .readOnly),
                    delivery: delivery,
                    traceDelivery: traceDelivery,
                    writer: writer,
                    memory: memoryBudget,
                    config: config
                )
                let server = try await MonitoringServer.start(
                    address: address,
                    monitor: monitor,
                    group: MultiThreadedEventLoopGroup.singleton
                )
                monitoring = MonitoringService(server: server, monitor: monitor)
                logger.info("monitoring", metadata: ["listen": "\(server.address)"])
            } catch {
                logger.critical(
                    "cannot listen on monitoring.listen \(address): \(error); free the port or change the setting"
                )
                await server.stopAccepting()
                delivery.stop()
                traceDelivery?.stop()
                await uploader.shutdown()
                return ExitStatus.failure
            }
        }
        logger.info(
            "moda-agent started",
            metadata: [
                "version": "\(AgentVersion.current)", "queue": "\(config.queue.path)",
                "api_key_source": "\(key.source.rawValue)",
            ]
        )

        let notifier = SystemdNotifier()
        // The group's limit ends the process with a failure when reached; the drain stays inside it.
        let budget = ShutdownBudget(limit: .seconds(max(1, config.delivery.drainTimeoutSeconds) + 10))
        let heartbeat = Heartbeat(delivery: delivery, writer: writer, notifier: notifier, budget: memoryBudget) {
            metrics.acceptedEvents.current
        }
        let delivering = DeliveryService(
            driver: delivery,
            commits: writer.commits,
            uploader: uploader,
            budget: budget,
            logger: logger
        )
        // After events' delivery, so stopped before it: the shared uploader is shut down last.
        let traceServices: [ServiceGroupConfiguration.ServiceConfiguration] =
            traceDelivery.map { driver in
                [
                    .init(
                        service: DeliveryService(
                            driver: driver,
                            commits: writer.traceCommits,
                            uploader: nil,
                            budget: budget,
                            logger: logger
                        ),
                        serviceName: "trace-delivery"
                    )
                ]
            } ?? []
        let ingest = IngestService(
            server: server,
            writer: writer,
            budget: budget,
            drainTimeoutSeconds: config.delivery.drainTimeoutSeconds
        )
        let signalService = SignalService(
            signals: signals,
            configPath: configPath,
            delivery: delivery,
            traceDelivery: traceDelivery,
            notifier: notifier,
            budget: budget,
            logger: logger
        )
        var receiverServices: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let receivers {
            receiverServices.append(.init(service: HTTPIngestService(server: receivers, writer: writer), serviceName: "http"))
        }
        var monitoringServices: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let monitoring { monitoringServices.append(.init(service: monitoring, serviceName: "monitoring")) }
        // Started in this order, stopped in reverse; the signal service ending starts the shutdown.
        var configuration = ServiceGroupConfiguration(
            services: [
                .init(service: queue, serviceName: "queue"),
                .init(service: delivering, serviceName: "delivery"),
            ] + traceServices + [
                .init(service: ingest, serviceName: "ingest"),
            ] + receiverServices + tailServices + [
                .init(service: heartbeat, serviceName: "heartbeat"),
            ] + monitoringServices + [
                .init(
                    service: signalService,
                    successTerminationBehavior: .gracefullyShutdownGroup,
                    serviceName: "signals"
                ),
            ],
            logger: logger
        )
        configuration.maximumGracefulShutdownDuration = budget.limit
        configuration.maximumCancellationDuration = .seconds(5)
        do {
            try await ServiceGroup(configuration: configuration).run()
        } catch {
            logger.critical("shutdown failed: \(error)")
            return ExitStatus.failure
        }
        logger.info("stopped", metadata: ["accepted_events": "\(metrics.acceptedEvents.current)"])
        return ExitStatus.success
    }
}
