/// Whether a line fits under `queue.maxBytes`, and what `queue.whenFull` does when it does not:
/// a decision, no SQL. The group commit asks once per line and carries out each step it gets
/// until the answer is `insert` or `refuse`.
///
/// Events and trace exports share `queue.maxBytes` (one bound for the disk), but only events are
/// ever dropped to make room: what exports hold is room events cannot take.
struct RoomPolicy: Equatable {
    let maxBytes: Int64
    let whenFull: AgentConfig.WhenFull

    enum Step: Equatable {
        case insert
        /// Refused, retryably; the queue holds `queuedBytes` (events and exports).
        case refuse(queuedBytes: Int64)
        /// Delete the delivered events still queued (counted delivered, not dropped), then ask again.
        case purgeDelivered
        /// Drop the oldest events until at least this many bytes are free, then insert.
        case dropOldest(atLeast: Int64)
    }

    /// What is queued when the line is looked at, and what was already done for it.
    struct Situation: Equatable {
        var eventBytes: Int64
        var traceBytes: Int64
        var lineBytes: Int64
        /// `purgeDelivered` already ran for this commit: delivered rows are gone.
        var purged = false
    }

    func step(_ situation: Situation) -> Step {
        let room = maxBytes - situation.traceBytes
        if situation.eventBytes + situation.lineBytes <= room { return .insert }
        guard whenFull == .dropOldest, situation.lineBytes <= room else {
            return .refuse(queuedBytes: situation.eventBytes + situation.traceBytes)
        }
        if !situation.purged { return .purgeDelivered }
        return .dropOldest(atLeast: situation.eventBytes + situation.lineBytes - room)
    }

    /// Whether a trace export of `size` bytes fits beside what is queued; exports are refused when
    /// full (the exporter retries on 503), never dropped and never a reason to drop events.
    func fits(export size: Int64, eventBytes: Int64, traceBytes: Int64) -> Bool {
        eventBytes + traceBytes + size <= maxBytes
    }
}
