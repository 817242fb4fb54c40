import CoreMetrics

/// What delivery tells a monitoring system (docs/monitoring.md), through swift-metrics: a no-op unless the
/// daemon bootstrapped a metrics backend (`monitoring.listen`).
struct DeliveryMetrics: Sendable {
    private let queue: String
    private let duration: CoreMetrics.Timer
    private let inFlight: Meter
    private let retries: Counter
    private let deadLettered: Counter

    /// `queue`: `events` or `traces`, the label of docs/monitoring.md.
    init(queue: String = "events") {
        self.queue = queue
        duration = CoreMetrics.Timer(
            label: "moda_agent_delivery_request_duration_seconds",
            dimensions: [("queue", queue)]
        )
        inFlight = Meter(label: "moda_agent_delivery_in_flight", dimensions: [("queue", queue)])
        retries = Counter(label: "moda_agent_delivery_retries_total", dimensions: [("queue", queue)])
        deadLettered = Counter(label: "moda_agent_dead_lettered_total", dimensions: [("queue", queue)])
    }

    func requestStarted() {
        inFlight.increment(by: 1)
    }

    /// One request's outcome: its code (HTTP status, `timeout`, `connection` or `tls`) and how long it took.
    /// (The last success time comes from the delivery status, which the monitor samples.)
    func requestFinished(_ result: UploadResult, after elapsed: Duration) {
        inFlight.decrement(by: 1)
        duration.recordNanoseconds(
            elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
        )
        Counter(
            label: "moda_agent_delivery_requests_total",
            dimensions: [("queue", queue), ("code", Self.code(result))]
        )
            .increment()
    }

    func retryScheduled() {
        retries.increment()
    }

    func eventDeadLettered() {
        deadLettered.increment()
    }

    static func code(_ result: UploadResult) -> String {
        switch result {
        case .response(let response): return String(response.status)
        case .transportFailure(let reason):
            return DeliveryFault.cause(status: nil, message: reason) == .timedOut ? "timeout" : "connection"
        case .certificateRejected: return "tls"
        }
    }
}
