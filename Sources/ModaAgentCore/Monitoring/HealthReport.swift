/// `/health` (docs/monitoring.md), decided from one sample of the daemon's state: a pure function, so each
/// rule is a row in a test.
public struct HealthReport: Sendable, Equatable {
    public var healthy: Bool
    public var reason: String?
    public var deliveryState: DeliveryStatus.State
    public var queuedEvents: Int

    /// Retrying this long with no success is unhealthy.
    public static let retryingLimitSeconds: Double = 600

    public struct Inputs: Sendable, Equatable {
        public var delivery: DeliveryStatus
        /// Seconds delivery has been retrying without a success in between; nil when it is not.
        public var retryingForSeconds: Double?
        public var queuedEvents: Int
        public var queuedBytes: Int
        public var maxQueueBytes: Int
        public var whenFull: AgentConfig.WhenFull
        public var lastCommitFailed: Bool
        /// The OTLP relay's delivery, when the daemon runs one: its failures are the operator's to fix too.
        public var traceDelivery: DeliveryStatus?
        public var traceRetryingForSeconds: Double?

        /// `queuedBytes`: events' and trace exports' together, as they share `queue.maxBytes`.
        public init(
            delivery: DeliveryStatus,
            retryingForSeconds: Double?,
            queuedEvents: Int,
            queuedBytes: Int,
            maxQueueBytes: Int,
            whenFull: AgentConfig.WhenFull,
            lastCommitFailed: Bool,
            traceDelivery: DeliveryStatus? = nil,
            traceRetryingForSeconds: Double? = nil
        ) {
            self.delivery = delivery
            self.retryingForSeconds = retryingForSeconds
            self.queuedEvents = queuedEvents
            self.queuedBytes = queuedBytes
            self.maxQueueBytes = maxQueueBytes
            self.whenFull = whenFull
            self.lastCommitFailed = lastCommitFailed
            self.traceDelivery = traceDelivery
            self.traceRetryingForSeconds = traceRetryingForSeconds
        }
    }

    public static func evaluate(_ inputs: Inputs) -> HealthReport {
        var report = HealthReport(
            healthy: true,
            reason: nil,
            deliveryState: inputs.delivery.state,
            queuedEvents: inputs.queuedEvents
        )
        report.reason = failure(
            of: inputs.delivery,
            retryingFor: inputs.retryingForSeconds,
            name: "delivery",
            key: "endpoint"
        )
        if report.reason == nil, let traces = inputs.traceDelivery {
            report.reason = failure(
                of: traces,
                retryingFor: inputs.traceRetryingForSeconds,
                name: "trace delivery",
                key: "tracesEndpoint"
            )
        }
        if report.reason == nil, inputs.whenFull == .reject,
            Double(inputs.queuedBytes) > 0.9 * Double(inputs.maxQueueBytes)
        {
            report.reason =
                "queue over 90% of queue.maxBytes (\(inputs.queuedBytes) of \(inputs.maxQueueBytes) bytes); "
                + "new lines will soon be refused"
        }
        if report.reason == nil, inputs.lastCommitFailed {
            report.reason = "the last group commit failed; new lines are refused until the queue can be written"
        }
        report.healthy = report.reason == nil
        return report
    }

    private static func failure(
        of delivery: DeliveryStatus,
        retryingFor seconds: Double?,
        name: String,
        key: String
    ) -> String? {
        let detail = delivery.lastError.map { ": \($0.message)" } ?? ""
        switch delivery.state {
        case .unauthorized:
            return "\(name) unauthorized\(detail); fix the API key, then systemctl reload moda-agent"
        case .misconfigured:
            // No HTTP status: the TLS certificate was rejected (docs/networks.md), not the endpoint's answer.
            let certificate = delivery.lastError.map(TransportFailureText.isCertificateProblem) == true
            let setting = certificate ? "delivery.caFile" : key
            return "\(name) misconfigured\(detail); check \(setting), then systemctl reload moda-agent"
        case .retrying:
            guard let seconds, seconds > retryingLimitSeconds else { return nil }
            return "\(name) retrying with no success for \(Int(seconds / 60)) minutes\(detail)"
        case .idle, .ok:
            return nil
        }
    }

    /// `{"status":"ok",...}` or `{"status":"unhealthy","reason":"...",...}`.
    public var json: String {
        var fields = ["\"status\":\(healthy ? "\"ok\"" : "\"unhealthy\"")"]
        if let reason { fields.append("\"reason\":\(JSONText.quoted(reason))") }
        fields.append("\"delivery\":\(JSONText.quoted(deliveryState.rawValue))")
        fields.append("\"queuedEvents\":\(queuedEvents)")
        return "{" + fields.joined(separator: ",") + "}"
    }
}
