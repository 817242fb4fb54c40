import Foundation
import Logging
import NIOCore
import NIOPosix
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
            FileHandle.standardError.write(Data("moda-agent: \(error)\n".utf8))
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
        ResourceLimits.raiseOpenFileLimit()

        let lock: QueueLock
        let reader: QueueStore
        let writer: QueueWriter
        // The queue holds conversation text: every file the daemon creates is its user's alone, whatever
        // umask it inherited (outside systemd, which sets UMask=0077 itself).
        umask(0o077)
        do {
            try QueueFiles.prepareFolder(queuePath: config.queue.path)
            for warning in QueueFiles.exposedFiles(queuePath: config.queue.path) {
                logger.warning("\(warning)")
            }
            lock = try QueueLock(queuePath: config.queue.path)
            let writerDB = try openQueue(config: config, logger: logger)
            try DaemonRecord.write(writerDB, pid: getpid(), version: AgentVersion.current, startedAt: Timestamp.now())
            let reserve = DiskReserve(queuePath: config.queue.path)
            if !reserve.ensure() {
                logger.warning("cannot set aside the disk reserve \(reserve.path); a full disk may stall deletions")
            }
            writer = try QueueWriter(db: writerDB, config: config.queue, reserve: reserve, logger: logger)
            reader = try QueueStore(path: config.queue.path, durability: config.queue.durability, create: true)
        } catch {
            logger.critical("\(error)")
            if case .locked = error { return ExitStatus.alreadyRunning }
            return ExitStatus.failure
        }
        defer {
            reader.close()
            _ = lock
        }

        let uploader = Uploader(connectTimeoutSeconds: min(3, config.delivery.timeoutSeconds))
        let delivery: DeliveryDriver
        let metrics = IngestMetrics()
        let server: IngestServer
        do {
            delivery = try DeliveryDriver(
                reader: reader,
                writer: writer,
                uploader: uploader,
                settings: DeliverySettings(config: config, apiKey: key.key),
                logger: logger
            )
            server = try await IngestServer.start(
                config: config,
                activatedSocket: try SocketActivation.listeningUnixStreamSocket(),
                validator: EventValidator(
                    maxEventBytes: config.batch.maxEventBytes,
                    defaultEnvironment: config.environment
                ),
                writer: writer,
                metrics: metrics,
                group: MultiThreadedEventLoopGroup.singleton,
                logger: logger
            )
        } catch {
            logger.critical(
                error is IngestError || error is QueueError ? "\(error)" : "cannot start the ingest socket: \(error)"
            )
            await uploader.shutdown()
            if case .socketInUse = error as? IngestError { return ExitStatus.alreadyRunning }
            return ExitStatus.failure
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
        let heartbeat = Heartbeat(delivery: delivery, writer: writer, notifier: notifier) {
            metrics.acceptedEvents.current
        }
        let signalService = SignalService(
            signals: signals,
            budget: budget,
            reload: { reload(configPath: configPath, delivery: delivery, notifier: notifier, logger: logger) },
            flush: { delivery.flush() },
            logger: logger
        )
        var configuration = ServiceGroupConfiguration(
            services: [
                .init(service: QueueService(writer: writer), serviceName: "queue"),
                .init(
                    service: DeliveryService(
                        driver: delivery,
                        writer: writer,
                        uploader: uploader,
                        budget: budget,
                        logger: logger
                    ),
                    serviceName: "delivery"
                ),
                .init(
                    service: IngestService(
                        server: server,
                        writer: writer,
                        budget: budget,
                        drainTimeoutSeconds: config.delivery.drainTimeoutSeconds
                    ),
                    serviceName: "ingest"
                ),
                .init(
                    service: HeartbeatService(heartbeat: heartbeat, notifier: notifier, budget: budget),
                    serviceName: "heartbeat"
                ),
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

    /// SIGHUP: the config's delivery settings and the API key, read afresh.
    private static func reload(configPath: String, delivery: DeliveryDriver, notifier: SystemdNotifier, logger: Logger)
    {
        notifier.reloading()
        do {
            let fresh = try ConfigLoader.load(path: configPath)
            let freshKey = try APIKeyResolver.resolve(config: fresh, environment: ProcessInfo.processInfo.environment)
            delivery.reload(DeliverySettings(config: fresh, apiKey: freshKey.key))
            logger.info("configuration reloaded", metadata: ["api_key_source": "\(freshKey.source.rawValue)"])
        } catch {
            logger.error("reload failed, keeping the running configuration: \(error)")
        }
        notifier.readyAfterReload()
    }

    /// Opens the writer's connection; a damaged file is moved aside (loudly) and replaced.
    private static func openQueue(config: AgentConfig, logger: Logger) throws(QueueError) -> SQLiteConnection {
        do {
            return try QueueDatabase.open(path: config.queue.path, durability: config.queue.durability, create: true)
        } catch {
            guard case .damaged(_, let reason) = error else { throw error }
            let aside = try DamagedQueue.setAside(path: config.queue.path)
            logger.critical(
                """
                the queue database was damaged (\(reason)); it was moved to \(aside) and a new queue was started. \
                Events in the old file can be recovered with: sqlite3 \(aside) .recover
                """,
                metadata: ["damaged_file": "\(aside)"]
            )
            return try QueueDatabase.open(path: config.queue.path, durability: config.queue.durability, create: true)
        }
    }
}
