import Atomics

/// Counters the ingest side keeps for logs and the benchmark; atomics, since every event loop
/// touches them.
public final class IngestMetrics: Sendable {
    public let acceptedEvents = ManagedAtomic<Int>(0)
    public let rejectedLines = ManagedAtomic<Int>(0)
    public let droppedReplies = ManagedAtomic<Int>(0)
    public let openConnections = ManagedAtomic<Int>(0)

    public init() {}
}

extension ManagedAtomic where Value == Int {
    func add(_ amount: Int) { wrappingIncrement(by: amount, ordering: .relaxed) }
    public var current: Int { load(ordering: .relaxed) }
}
