import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// The daemon's lifetime: parts start in dependency order (queue, delivery, socket) and stop in
/// reverse (socket, ingest writer, delivery drain, queue), per SPEC 6.
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
        var logger = Logger(label: "moda-agent")
        logger.logLevel = Logger.Level(rawValue: config.log.level) ?? .info
        let signals = SignalWatcher()
        ResourceLimits.raiseOpenFileLimit()

        let lock: QueueLock
        let store: QueueStore
        let writerDB: SQLiteConnection
        // The queue holds conversation text: every file the daemon creates is its user's alone, whatever
        // umask it inherited (outside systemd, which sets UMask=0077 itself).
        umask(0o077)
        do {
            try QueueFiles.prepareFolder(queuePath: config.queue.path)
            for warning in QueueFiles.exposedFiles(queuePath: config.queue.path) {
                logger.warning("\(warning)")
            }
            lock = try QueueLock(queuePath: config.queue.path)
            writerDB = try openQueue(config: config, logger: logger)
            store = try QueueStore(path: config.queue.path, durability: config.queue.durability, create: true)
            try DaemonRecord.write(writerDB, pid: getpid(), version: AgentVersion.current, startedAt: Timestamp.now())
        } catch {
            logger.critical("\(error)")
            if case .locked = error { return ExitStatus.alreadyRunning }
            return ExitStatus.failure
        }
        _ = lock

        let uploader = Uploader(connectTimeoutSeconds: min(3, config.delivery.timeoutSeconds))
        let flusher: DeliveryDriver
        let writer: QueueWriter
        do {
            let reserve = DiskReserve(queuePath: config.queue.path)
            if !reserve.ensure() {
                logger.warning("cannot set aside the disk reserve \(reserve.path); a full disk may stall deletions")
            }
            writer = try QueueWriter(db: writerDB, config: config.queue, reserve: reserve, logger: logger)
            flusher = try DeliveryDriver(
                reader: store,
                writer: writer,
                uploader: uploader,
                settings: DeliverySettings(config: config, apiKey: key.key),
                logger: logger
            )
        } catch {
            logger.critical("\(error)")
            return ExitStatus.failure
        }
        flusher.start()
        let commits = Task { for await commit in writer.commits { flusher.committed(commit) } }

        let notifier = SystemdNotifier()
        let group = MultiThreadedEventLoopGroup.singleton
        let metrics = IngestMetrics()
        let server: IngestServer
        do {
            let activated = try SocketActivation.listeningUnixStreamSocket()
            server = try await IngestServer.start(
                config: config,
                activatedSocket: activated,
                validator: EventValidator(
                    maxEventBytes: config.batch.maxEventBytes,
                    defaultEnvironment: config.environment
                ),
                writer: writer,
                metrics: metrics,
                group: group,
                logger: logger
            )
        } catch let error as IngestError {
            logger.critical("\(error)")
            flusher.stop()
            await uploader.shutdown()
            if case .socketInUse = error { return ExitStatus.alreadyRunning }
            return ExitStatus.failure
        } catch {
            logger.critical("cannot start the ingest socket: \(error)")
            flusher.stop()
            await uploader.shutdown()
            return ExitStatus.failure
        }
        logger.info(
            "moda-agent started",
            metadata: [
                "version": "\(AgentVersion.current)", "queue": "\(config.queue.path)",
                "api_key_source": "\(key.source.rawValue)",
            ]
        )
        notifier.ready()
        let heartbeat = Heartbeat(delivery: flusher, writer: writer, notifier: notifier) {
            metrics.acceptedEvents.current
        }
        heartbeat.start()

        var currentConfig = config
        for await signal in signals.signals {
            switch signal {
            case .flush:
                flusher.flush()
                continue
            case .reload:
                notifier.reloading()
                do {
                    let fresh = try ConfigLoader.load(path: configPath)
                    let freshKey = try APIKeyResolver.resolve(
                        config: fresh,
                        environment: ProcessInfo.processInfo.environment
                    )
                    flusher.reload(DeliverySettings(config: fresh, apiKey: freshKey.key))
                    currentConfig = fresh
                    logger.info("configuration reloaded", metadata: ["api_key_source": "\(freshKey.source.rawValue)"])
                } catch {
                    logger.error("reload failed, keeping the running configuration: \(error)")
                }
                notifier.readyAfterReload()
                continue
            case .terminate:
                break
            }
            break
        }

        // drainTimeoutSeconds counts from the signal and covers everything, so systemd's
        // TimeoutStopSec can be set against it; the last half second is kept for teardown.
        let shutdownStarted = ContinuousClock.now
        logger.info("shutting down: finishing lines already read, then draining deliveries")
        notifier.stopping()
        heartbeat.stop()
        await server.stopAccepting()
        await server.drain(timeout: .seconds(max(1, min(5, currentConfig.delivery.drainTimeoutSeconds))))
        writer.waitUntilIdle()
        let elapsed = ContinuousClock.now - shutdownStarted
        let spent = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let drained = await flusher.drain(
            until: .now + .seconds(max(0, currentConfig.delivery.drainTimeoutSeconds - spent - 0.5))
        )
        flusher.stop()
        writer.finish()
        await commits.value
        await uploader.shutdown()
        let left = (try? store.counters().queuedEvents) ?? 0
        store.close()
        logger.info(
            drained ? "stopped; queue empty" : "stopped; events wait in the queue for the next start",
            metadata: ["event_count": "\(left)", "accepted_events": "\(metrics.acceptedEvents.current)"]
        )
        return ExitStatus.success
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
