/// Which queue a delivery serves, and the words its logs, metrics and service use for it.
public enum DeliveryQueue: String, Sendable {
    case events
    case traces

    /// One queued item in logs: "event", "trace export".
    var itemName: String { self == .events ? "event" : "trace export" }
    var itemsName: String { self == .events ? "events" : "trace exports" }
    /// The delivery in logs: "delivery", "trace delivery".
    var deliveryName: String { self == .events ? "delivery" : "trace delivery" }
    /// The log metadata key counting items.
    var countKey: String { self == .events ? "event_count" : "export_count" }
    /// The daemon's service name.
    var serviceName: String { self == .events ? "delivery" : "trace-delivery" }

    /// The settings this queue is delivered with: trace exports go one request at a time, in one lane
    /// (they have no order to keep across lanes, and merging fills each request instead).
    func fitted(_ settings: DeliverySettings) -> DeliverySettings {
        guard self == .traces else { return settings }
        var fitted = settings
        fitted.delivery.maxInFlight = 1
        return fitted
    }
}
