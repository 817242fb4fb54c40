import NIOConcurrencyHelpers

/// The requests delivery has in flight right now, for `modactl trace` ("in flight since, attempt"):
/// the only part of an event's state that lives in the daemon's memory, not in the queue.
/// Updated once per request sent and answered.
public final class InFlightBoard: Sendable {
    public struct Entry: Sendable, Equatable {
        public var ids: [Int64]
        /// Wall-clock seconds when this attempt was sent.
        public var since: Double
        public var attempt: Int
    }

    private let entries = NIOLockedValueBox<[UInt64: Entry]>([:])

    public init() {}

    func started(batch: UInt64, ids: [Int64], attempt: Int, at since: Double) {
        entries.withLockedValue { $0[batch] = Entry(ids: ids, since: since, attempt: attempt) }
    }

    func finished(batch: UInt64) {
        _ = entries.withLockedValue { $0.removeValue(forKey: batch) }
    }

    public var snapshot: [Entry] {
        entries.withLockedValue { Array($0.values) }.sorted { $0.since < $1.since }
    }
}
