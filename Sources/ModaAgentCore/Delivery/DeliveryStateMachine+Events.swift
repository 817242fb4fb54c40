/// What goes into the machine and what comes out of it.
extension DeliveryStateMachine {
    /// The two clocks an event happens at: the monotonic one for every wait, the wall clock for
    /// the times shown to operators (`lastSuccessAt`, `nextAttemptAt`).
    public struct Now: Sendable {
        public var instant: Instant
        public var wall: Double

        public init(instant: Instant, wall: Double) {
            self.instant = instant
            self.wall = wall
        }
    }

    public struct BatchID: Hashable, Comparable, Sendable, CustomStringConvertible {
        public var raw: UInt64
        public static func < (lhs: Self, rhs: Self) -> Bool { lhs.raw < rhs.raw }
        public var description: String { "#\(raw)" }
    }

    /// The events of one lane handed to one request, by id (ascending): the driver reads their
    /// rows for each attempt. `attempts` counts this batch's failed sends.
    public struct Batch: Sendable, Equatable {
        public var id: BatchID
        public var lane: Int
        public var ids: [Int64]
        public var attempts = 0

        var firstID: Int64 { ids.first ?? 0 }
    }

    public enum Event: Sendable {
        /// Delivery begins; `lastQueuedID` is the newest id already in the queue.
        case started(lastQueuedID: Int64)
        /// The queue's writer committed `count` events, the newest with id `lastID`; `added` are
        /// those events as a scan would give them (empty when the writer does not say).
        case committed(count: Int, lastID: Int64, added: [ScannedEvent])
        /// What a `scan` found, in id order.
        case scanned([ScannedEvent])
        case scanFailed
        /// The classified answer to a batch; `jitter` is a random draw in [0, 1] for the backoff.
        case response(BatchID, DeliveryDecision, jitter: Double)
        /// The batch's rows could not be read to send it.
        case unreadable(BatchID)
        /// None of the batch's rows is queued any more (dropped for room): nothing was sent.
        case vanished(BatchID)
        case written(BatchID)
        case writeFailed(BatchID)
        /// The wake asked for last has come (the drain deadline included).
        case timerFired
        case flushRequested
        case reload(DeliverySettings)
        /// Deliver everything now, until the queue is empty or `deadline`.
        case drainRequested(deadline: Instant)
        case stop
    }

    public enum Action: Sendable, Equatable {
        /// Sort up to `limit` events after id `after` into lanes: answer with `scanned`.
        case scan(after: Int64, limit: Int)
        /// Read the batch's rows, build its body and post it: answer with `response`.
        case send(Batch)
        /// Call back with `timerFired` at this instant; nil cancels. Replaces the previous wake.
        case wake(at: Instant?)
        /// The batch was delivered: record it and `status`, and cut the queue through `through`
        /// (every id up to it is finished), in one transaction.
        case remove(BatchID, ids: [Int64], through: Int64, status: DeliveryStatus)
        /// Read the event and move it to the dead letters with `status`, in one transaction.
        case deadLetter(BatchID, eventID: Int64, DeliveryFault, at: Double, status: DeliveryStatus)
        case persist(DeliveryStatus)
        /// For the log: a failed send will be tried again after `delay` seconds.
        case retryScheduled(fault: DeliveryFault, attempt: Int, delay: Double, state: DeliveryStatus.State)
        /// For the log: the API refused a batch of `eventCount`; its halves go on their own.
        case splitting(fault: DeliveryFault, eventCount: Int)
        case drainFinished(drained: Bool)
    }
}
