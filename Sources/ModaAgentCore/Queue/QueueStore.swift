import Foundation

/// Reads the queue: the head for delivery, counters and the delivery state for status. One
/// instance per reader (delivery, a modactl command), each with its own connection: WAL lets them
/// run beside the queue's writer, which makes every change (`QueueWriter`, `QueueWrite`).
public final class QueueStore {
    public struct Counters: Sendable, Equatable {
        public var queuedEvents: Int
        public var queuedBytes: Int
        public var droppedEvents: Int
        public var deliveredEvents: Int
    }

    let db: SQLiteConnection
    private let headQuery: SQLiteStatement
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

    init(connection: SQLiteConnection) throws(QueueError) {
        db = connection
        headQuery = try db.prepare("SELECT id, received_at, body FROM events WHERE id > ? ORDER BY id LIMIT ?")
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

    /// The newest id in the queue, 0 when it is empty.
    public func lastEventID() throws(QueueError) -> Int64 {
        try db.scalarInt("SELECT max(id) FROM events") ?? 0
    }

    public func deadLetterCount() throws(QueueError) -> Int {
        Int(try db.scalarInt("SELECT count(*) FROM dead_letters") ?? 0)
    }

    public func oldestReceivedAt() throws(QueueError) -> Double? {
        let statement = try db.prepare("SELECT received_at FROM events ORDER BY id LIMIT 1")
        guard try statement.step() else { return nil }
        return statement.double(0)
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
}
