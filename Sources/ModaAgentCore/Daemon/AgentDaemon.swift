import CoreMetrics
import Logging
import Prometheus
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// The daemon: loads the config, builds its parts (`DaemonBuilder`) and runs them as one service
/// group until SIGTERM/SIGINT. Every failure, at start or later, leaves through one catch, which
/// logs it and picks the exit status (see docs/architecture.md, "The daemon's services").
public enum AgentDaemon {
    /// Runs until SIGTERM/SIGINT; returns the process exit status.
    public static func run(configPath: String, environment: [String: String]) async -> Int32 {
        let config: AgentConfig
        let key: APIKeyResolver.Resolved
        let network: UpstreamNetwork
        let redactor: Redactor
        do {
            config = try ConfigLoader.load(path: configPath)
            key = try APIKeyResolver.resolve(config: config, environment: environment)
            network = try UpstreamNetwork.load(config: config, configPath: configPath, environment: environment)
            redactor = try Redactor(settings: config.redaction, configPath: configPath)
        } catch {
            StandardError.line("moda-agent: \(error)")
            return ExitStatus.configuration
        }
        let level = Logger.Level(rawValue: config.log.level) ?? .info
        LoggingSetup.bootstrap(level: level)
        var logger = Logger(label: "moda-agent")
        logger.logLevel = level
        // Before any socket exists: an early SIGTERM is never the default "die at once".
        let signals = SignalWatcher()
        // Before any part creates its instruments; without a listener they stay no-ops.
        let registry = config.monitoring.listen.map { _ in PrometheusCollectorRegistry() }
        if let registry { MetricsSystem.bootstrap(PrometheusFactory(registry: registry)) }
        ResourceLimits.raiseOpenFileLimit()
        // The queue holds conversation text: every file the daemon creates is its user's alone, whatever
        // umask it inherited (outside systemd, which sets UMask=0077 itself).
        umask(0o077)
        let builder = DaemonBuilder(
            config: config,
            key: key,
            network: network,
            redactor: redactor,
            configPath: configPath,
            signals: signals,
            registry: registry,
            logger: logger
        )
        // Redaction's counts for `modactl status` (another process), written at most once a second.
        let redactionCounts = RedactionCountsFile.recorder(for: redactor, queuePath: config.queue.path)
        defer { redactionCounts.stop() }
        do {
            let daemon = try await builder.build()
            let configuration = groupConfiguration(daemon, key: key, network: network, config: config, logger: logger)
            try await ServiceGroup(configuration: configuration).run()
            logger.info("stopped", metadata: ["accepted_events": "\(daemon.metrics.acceptedEvents.current)"])
            return ExitStatus.success
        } catch {
            logger.critical("\(error)")
            return DaemonStartError.exitStatus(for: error)
        }
    }

    private static func groupConfiguration(
        _ daemon: DaemonBuilder.Daemon,
        key: APIKeyResolver.Resolved,
        network: UpstreamNetwork,
        config: AgentConfig,
        logger: Logger
    ) -> ServiceGroupConfiguration {
        let services = daemon.services.configurations {
            logger.info(
                "moda-agent started",
                metadata: [
                    "version": "\(AgentVersion.current)", "queue": "\(config.queue.path)",
                    "api_key_source": "\(key.source.rawValue)",
                ].merging(network.logMetadata(config: config)) { $1 }
            )
        }
        var configuration = ServiceGroupConfiguration(services: services, logger: logger)
        configuration.maximumGracefulShutdownDuration = daemon.shutdown.limit
        configuration.maximumCancellationDuration = .seconds(5)
        return configuration
    }
}
