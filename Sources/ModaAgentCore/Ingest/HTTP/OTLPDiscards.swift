import CoreMetrics
import Logging
import NIOConcurrencyHelpers

/// `/v1/metrics` and `/v1/logs` (docs/protocol.md): answered and discarded, since Moda takes traces only.
/// Each is counted, and the first of each signal since the daemon started is logged once, so an
/// operator learns why an application's metrics or logs go nowhere.
final class OTLPDiscards: Sendable {
    private let logger: Logger
    private let logged = NIOLockedValueBox<Set<String>>([])

    init(logger: Logger) {
        self.logger = logger
    }

    func discarded(signal: String) {
        Counter(label: "moda_agent_otlp_discarded_total", dimensions: [("signal", signal)]).increment()
        let first = logged.withLockedValue { $0.insert(signal).inserted }
        if first {
            logger.info(
                """
                OTLP \(signal) received on /v1/\(signal) are answered 200 and discarded: Moda takes traces only \
                (logged once per start; counted in moda_agent_otlp_discarded_total)
                """,
                metadata: ["signal": "\(signal)"]
            )
        }
    }
}
