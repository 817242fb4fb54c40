import Atomics
import CoreMetrics

/// What ingest counts: atomics for the daemon's own use (the heartbeat, the last log line), and
/// the docs/monitoring.md instruments through swift-metrics, a no-op unless the daemon bootstrapped a
/// backend. Counted once per read burst, not per line, to keep the hot path flat.
public final class IngestMetrics: Sendable {
    public enum RejectReason: String, Sendable, CaseIterable {
        case invalid
        case tooLarge = "too_large"
        case queueFull = "queue_full"
        case writeFailed = "write_failed"
        case unauthorized
    }

    public let acceptedEvents = ManagedAtomic<Int>(0)
    public let rejectedLines = ManagedAtomic<Int>(0)
    public let droppedReplies = ManagedAtomic<Int>(0)
    public let openConnections = ManagedAtomic<Int>(0)

    private let receivedCounter: Counter
    private let acceptedCounter: Counter
    private let rejectedCounters: [RejectReason: Counter]
    private let connections = Meter(label: "moda_agent_connections")

    /// `source`: `socket` or `http`, the label of docs/monitoring.md.
    public init(source: String = "socket") {
        receivedCounter = Counter(label: "moda_agent_received_lines_total", dimensions: [("source", source)])
        acceptedCounter = Counter(label: "moda_agent_accepted_events_total", dimensions: [("source", source)])
        var rejected: [RejectReason: Counter] = [:]
        for reason in RejectReason.allCases {
            rejected[reason] = Counter(
                label: "moda_agent_rejected_lines_total",
                dimensions: [("source", source), ("reason", reason.rawValue)]
            )
        }
        rejectedCounters = rejected
    }

    /// A burst of `lines` non-blank lines answered, `events` of them acknowledged.
    func burstAnswered(lines: Int, events: Int) {
        acceptedEvents.add(events)
        receivedCounter.increment(by: Int64(lines))
        if events > 0 { acceptedCounter.increment(by: Int64(events)) }
    }

    func rejected(_ reason: RejectReason) {
        rejectedLines.add(1)
        rejectedCounters[reason]?.increment()
    }

    func connectionOpened() {
        openConnections.add(1)
        connections.increment(by: 1)
    }

    func connectionClosed() {
        openConnections.add(-1)
        connections.decrement(by: 1)
    }
}

extension ManagedAtomic where Value == Int {
    func add(_ amount: Int) { wrappingIncrement(by: amount, ordering: .relaxed) }
    public var current: Int { load(ordering: .relaxed) }
}
