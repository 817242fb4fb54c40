/// A change delivery asks of the queue. The queue's writer applies it inside its next group
/// commit (its own savepoint, the group's transaction and fsync), so delivery never races ingest
/// for SQLite's write lock and never opens a second writer on the same file.
public enum QueueWrite: Sendable {
    /// Removes a delivered batch (ids `first...last`, contiguous) and records the success: the
    /// events leave only together with the record of delivery.
    case markDelivered(first: Int64, last: Int64, status: DeliveryStatus)
    /// Moves one event to the dead letters with the API's verdict.
    case deadLetter(QueuedEvent, fault: DeliveryFault, at: Double, status: DeliveryStatus)
    case status(DeliveryStatus)

    var isRemoval: Bool {
        if case .markDelivered = self { return true }
        return false
    }

    func apply(to db: SQLiteConnection) throws(QueueError) {
        try db.transaction { () throws(QueueError) in
            switch self {
            case .markDelivered(let first, let last, let status):
                let (events, bytes) = try Self.delete(first: first, last: last, in: db)
                try db.execute(
                    "UPDATE counters SET queued_events = max(0, queued_events - \(events)), "
                        + "queued_bytes = max(0, queued_bytes - \(bytes)), "
                        + "delivered_events = delivered_events + \(events) WHERE id = 1"
                )
                try Self.write(status, to: db)
            case .deadLetter(let event, let fault, let time, let status):
                try Self.insertDeadLetter(event, fault: fault, at: time, into: db)
                let (events, bytes) = try Self.delete(first: event.id, last: event.id, in: db)
                try db.execute(
                    "UPDATE counters SET queued_events = max(0, queued_events - \(events)), "
                        + "queued_bytes = max(0, queued_bytes - \(bytes)) WHERE id = 1"
                )
                try Self.write(status, to: db)
            case .status(let status):
                try Self.write(status, to: db)
            }
        }
    }

    private static func insertDeadLetter(
        _ event: QueuedEvent,
        fault: DeliveryFault,
        at time: Double,
        into db: SQLiteConnection
    ) throws(QueueError) {
        let summary = EventSummary(body: event.body)
        let insert = try db.prepare(
            "INSERT INTO dead_letters (event_id, received_at, dead_at, status, error, request_id, "
                + "conversation_id, preview, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        insert.bind(1, event.id)
        insert.bind(2, event.receivedAt)
        insert.bind(3, time)
        insert.bind(4, Int64(fault.status ?? 0))
        insert.bind(5, fault.message)
        insert.bind(6, fault.requestId)
        insert.bind(7, summary.conversationId)
        insert.bind(8, summary.preview)
        event.body.withUnsafeBytes { insert.bindText(9, $0) }
        try insert.run()
    }

    private static func delete(
        first: Int64,
        last: Int64,
        in db: SQLiteConnection
    ) throws(QueueError) -> (events: Int64, bytes: Int64) {
        let statement = try db.prepare(
            "DELETE FROM events WHERE id BETWEEN ? AND ? RETURNING length(CAST(body AS BLOB))"
        )
        statement.bind(1, first)
        statement.bind(2, last)
        var events: Int64 = 0
        var bytes: Int64 = 0
        while try statement.step() {
            events += 1
            bytes += statement.int64(0)
        }
        return (events, bytes)
    }

    private static func write(_ status: DeliveryStatus, to db: SQLiteConnection) throws(QueueError) {
        let statement = try db.prepare(
            "UPDATE delivery_state SET state = ?, last_success_at = ?, last_error_status = ?, "
                + "last_error_message = ?, last_error_at = ?, attempts = ?, next_attempt_at = ? WHERE id = 1"
        )
        statement.bind(1, status.state.rawValue)
        bindOptional(statement, 2, status.lastSuccessAt)
        if let code = status.lastError?.status {
            statement.bind(3, Int64(code))
        } else {
            statement.bind(3, nil as String?)
        }
        statement.bind(4, status.lastError?.message)
        bindOptional(statement, 5, status.lastError?.at)
        statement.bind(6, Int64(status.attempts))
        bindOptional(statement, 7, status.nextAttemptAt)
        try statement.run()
    }

    private static func bindOptional(_ statement: SQLiteStatement, _ index: Int32, _ value: Double?) {
        if let value { statement.bind(index, value) } else { statement.bind(index, nil as String?) }
    }
}
