import Foundation

/// Reads and removes queued events for delivery, records dead letters and the delivery state.
/// One instance per owner (the flusher, a modactl command), each with its own connection: WAL
/// lets them run beside the ingest writer, and every change is one short transaction.
public final class QueueStore {
    public struct Counters: Sendable, Equatable {
        public var queuedEvents: Int
        public var queuedBytes: Int
        public var droppedEvents: Int
        public var deliveredEvents: Int
    }

    let db: SQLiteConnection
    private let headQuery: SQLiteStatement
    private let deleteRange: SQLiteStatement
    private let countersQuery: SQLiteStatement

    public convenience init(path: String, durability: AgentConfig.Durability, create: Bool) throws(QueueError) {
        try self.init(connection: QueueDatabase.open(path: path, durability: durability, create: create))
    }

    /// How an operator's command opens the queue (`QueueDatabase`): to look, or to change it.
    public enum OperatorAccess: Sendable {
        case readOnly
        case readWrite
    }

    public convenience init(operatorPath path: String, access: OperatorAccess) throws(QueueError) {
        switch access {
        case .readOnly: try self.init(connection: QueueDatabase.openReadOnly(path: path))
        case .readWrite: try self.init(connection: QueueDatabase.openForOperator(path: path))
        }
    }

    /// A store over a connection that already exists: the ingest writer's, for work that rides on
    /// its group commit.
    init(connection: SQLiteConnection) throws(QueueError) {
        db = connection
        headQuery = try db.prepare("SELECT id, received_at, body FROM events WHERE id > ? ORDER BY id LIMIT ?")
        deleteRange = try db.prepare(
            "DELETE FROM events WHERE id BETWEEN ? AND ? RETURNING length(CAST(body AS BLOB))"
        )
        countersQuery = try db.prepare(
            "SELECT queued_events, queued_bytes, dropped_events, delivered_events FROM counters WHERE id = 1"
        )
    }

    public func close() { db.close() }

    /// The oldest events after `afterID` that fit one request: at most `maxEvents`, and a body of
    /// at most `maxBytes`. Streams rows and stops early, so a million queued events cost no more
    /// than a batch.
    public func head(after afterID: Int64 = 0, maxEvents: Int, maxBytes: Int) throws(QueueError) -> QueueHead {
        headQuery.bind(1, afterID)
        headQuery.bind(2, Int64(maxEvents))
        defer { headQuery.reset() }
        var events: [QueuedEvent] = []
        var bodyBytes = 0
        var full = false
        while try headQuery.step() {
            let body = headQuery.bytes(2)
            if RequestBody.size(eventCount: events.count + 1, eventBytes: bodyBytes + body.count) > maxBytes {
                // An event larger than a whole request still goes alone; the API will judge it.
                if events.isEmpty {
                    events.append(QueuedEvent(id: headQuery.int64(0), receivedAt: headQuery.double(1), body: body))
                }
                full = true
                break
            }
            bodyBytes += body.count
            events.append(QueuedEvent(id: headQuery.int64(0), receivedAt: headQuery.double(1), body: body))
        }
        if events.count >= maxEvents { full = true }
        return QueueHead(events: events, isFull: full)
    }

    /// Copies the WAL into the database and truncates it to zero bytes, giving its space back to
    /// the filesystem: used when the disk is full, since a WAL otherwise keeps its largest size.
    public func checkpointAndTruncateWAL() throws(QueueError) {
        try db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    }

    public func counters() throws(QueueError) -> Counters {
        defer { countersQuery.reset() }
        guard try countersQuery.step() else {
            return Counters(queuedEvents: 0, queuedBytes: 0, droppedEvents: 0, deliveredEvents: 0)
        }
        return Counters(
            queuedEvents: Int(countersQuery.int64(0)),
            queuedBytes: Int(countersQuery.int64(1)),
            droppedEvents: Int(countersQuery.int64(2)),
            deliveredEvents: Int(countersQuery.int64(3))
        )
    }

    public func oldestReceivedAt() throws(QueueError) -> Double? {
        let statement = try db.prepare("SELECT received_at FROM events ORDER BY id LIMIT 1")
        guard try statement.step() else { return nil }
        return statement.double(0)
    }

    /// Removes a delivered batch (ids `first...last`, contiguous in the queue) and records the
    /// success, in one transaction: the events leave only together with the record of delivery.
    public func markDelivered(first: Int64, last: Int64, status: DeliveryStatus) throws(QueueError) {
        try db.transaction { () throws(QueueError) in
            let (events, bytes) = try deleteIDs(first: first, last: last)
            try db.execute(
                "UPDATE counters SET queued_events = max(0, queued_events - \(events)), "
                    + "queued_bytes = max(0, queued_bytes - \(bytes)), delivered_events = delivered_events + \(events) "
                    + "WHERE id = 1"
            )
            try writeStatus(status)
        }
    }

    /// Moves one event to the dead letters with the API's verdict, in one transaction.
    public func deadLetter(
        _ event: QueuedEvent,
        fault: DeliveryFault,
        at time: Double,
        status: DeliveryStatus
    )
        throws(QueueError)
    {
        let summary = EventSummary(body: event.body)
        try db.transaction { () throws(QueueError) in
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
            let (events, bytes) = try deleteIDs(first: event.id, last: event.id)
            try db.execute(
                "UPDATE counters SET queued_events = max(0, queued_events - \(events)), "
                    + "queued_bytes = max(0, queued_bytes - \(bytes)) WHERE id = 1"
            )
            try writeStatus(status)
        }
    }

    private func deleteIDs(first: Int64, last: Int64) throws(QueueError) -> (events: Int64, bytes: Int64) {
        deleteRange.bind(1, first)
        deleteRange.bind(2, last)
        defer { deleteRange.reset() }
        var events: Int64 = 0
        var bytes: Int64 = 0
        while try deleteRange.step() {
            events += 1
            bytes += deleteRange.int64(0)
        }
        return (events, bytes)
    }

    public func writeStatus(_ status: DeliveryStatus) throws(QueueError) {
        let statement = try db.prepare(
            "UPDATE delivery_state SET state = ?, last_success_at = ?, last_error_status = ?, "
                + "last_error_message = ?, last_error_at = ?, attempts = ?, next_attempt_at = ? WHERE id = 1"
        )
        statement.bind(1, status.state.rawValue)
        bindOptional(statement, 2, status.lastSuccessAt)
        if let status = status.lastError?.status {
            statement.bind(3, Int64(status))
        } else {
            statement.bind(3, nil as String?)
        }
        statement.bind(4, status.lastError?.message)
        bindOptional(statement, 5, status.lastError?.at)
        statement.bind(6, Int64(status.attempts))
        bindOptional(statement, 7, status.nextAttemptAt)
        try statement.run()
    }

    public func readStatus() throws(QueueError) -> DeliveryStatus {
        let statement = try db.prepare(
            "SELECT state, last_success_at, last_error_status, last_error_message, last_error_at, attempts, "
                + "next_attempt_at FROM delivery_state WHERE id = 1"
        )
        var status = DeliveryStatus()
        guard try statement.step() else { return status }
        status.state = DeliveryStatus.State(rawValue: statement.text(0) ?? "idle") ?? .idle
        status.lastSuccessAt = statement.isNull(1) ? nil : statement.double(1)
        if !statement.isNull(3) {
            status.lastError = .init(
                status: statement.isNull(2) ? nil : Int(statement.int64(2)),
                message: statement.text(3) ?? "",
                at: statement.double(4)
            )
        }
        status.attempts = Int(statement.int64(5))
        status.nextAttemptAt = statement.isNull(6) ? nil : statement.double(6)
        return status
    }

    private func bindOptional(_ statement: SQLiteStatement, _ index: Int32, _ value: Double?) {
        if let value { statement.bind(index, value) } else { statement.bind(index, nil as String?) }
    }
}
