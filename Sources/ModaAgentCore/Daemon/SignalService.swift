import FoundationEssentials
import Logging
import ServiceLifecycle

/// SIGHUP reloads delivery settings and the API key, SIGUSR1 flushes; SIGTERM/SIGINT end this
/// service, which shuts the group down gracefully. The handlers are installed by `SignalWatcher`
/// before any socket accepts, and signals wait in its stream until this runs, last of the services.
struct SignalService: Service {
    let signals: SignalWatcher
    let configPath: String
    let deliveries: [DeliveryDriver]
    /// Rebuilt on reload when the proxy or CA file changed.
    let uploader: Uploader
    /// Redaction's rules are reloaded with the rest.
    let redactor: Redactor
    let notifier: SystemdNotifier
    let budget: ShutdownBudget
    let logger: Logger

    func run() async throws {
        for await signal in signals.signals.cancelOnGracefulShutdown() {
            switch signal {
            case .flush:
                for delivery in deliveries { delivery.flush() }
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
            let environment = ProcessInfo.processInfo.environment
            let key = try APIKeyResolver.resolve(config: fresh, environment: environment)
            let network = try UpstreamNetwork.load(config: fresh, configPath: configPath, environment: environment)
            try redactor.reload(fresh.redaction, configPath: configPath)
            if uploader.use(network) {
                logger.info("proxy or CA file changed; HTTP clients rebuilt", metadata: network.logMetadata(config: fresh))
            }
            for delivery in deliveries { delivery.reload(DeliverySettings(config: fresh, apiKey: key.key)) }
            logger.info("configuration reloaded", metadata: ["api_key_source": "\(key.source.rawValue)"])
        } catch {
            logger.error("reload failed, keeping the running configuration: \(error)")
        }
        notifier.readyAfterReload()
    }
}
