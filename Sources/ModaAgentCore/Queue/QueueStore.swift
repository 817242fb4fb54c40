import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Reads the queue: the head and batches for delivery, counters and the delivery state for status. One
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
    /// Prepared on first use: only delivery scans, and it needs the v5 columns, which a queue an
    /// operator's command reads (never migrates) may lack.
    private var scanQuery: SQLiteStatement?
    private let runQuery: SQLiteStatement
    /// Prepared on first use, by delivery: it names v5's `conversation` column, which a queue `modactl`
    /// opens without migrating may not have.
    private var preparedBodyQuery: SQLiteStatement?
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
        runQuery = try db.prepare("SELECT id, received_at, body FROM events WHERE id BETWEEN ? AND ? ORDER BY id")
        countersQuery = try db.prepare(
            "SELECT queued_events, queued_bytes, dropped_events, delivered_events FROM counters WHERE id = 1"
        )
    }

    public func close() { db.close() }

    /// Up to `limit` events after `afterID`, each as its id, size and conversation, without keeping
    /// a body: delivery sorts the head into lanes with this and reads a batch's rows only to send it.
    public func scan(after afterID: Int64, limit: Int) throws(QueueError) -> [ScannedEvent] {
        let scanQuery: SQLiteStatement
        if let prepared = self.scanQuery {
            scanQuery = prepared
        } else {
            // The body only for rows older than v5, which have no key or size of their own.
            scanQuery = try db.prepare(
                "SELECT id, conversation, size, CASE WHEN conversation IS NULL OR size IS NULL THEN body END "
                    + "FROM events WHERE id > ? ORDER BY id LIMIT ?"
            )
            self.scanQuery = scanQuery
        }
        scanQuery.bind(1, afterID)
        scanQuery.bind(2, Int64(limit))
        defer { scanQuery.reset() }
        var events: [ScannedEvent] = []
        while try scanQuery.step() {
            // Reserved on the first row, not before: a caught-up daemon polls the queue every second and
            // finds nothing, and would otherwise allocate (and map, and unmap) a window of 190 KB each time.
            if events.isEmpty { events.reserveCapacity(min(limit, 16_384)) }
            let id = scanQuery.int64(0)
            if scanQuery.isNull(3) {
                let key = UInt64(bitPattern: scanQuery.int64(1))
                events.append(ScannedEvent(id: id, bytes: Int(scanQuery.int64(2)), conversation: key))
            } else {
                let (bytes, key) = scanQuery.withBytes(3) { ($0.count, ConversationKey.of(event: $0)) }
                events.append(ScannedEvent(id: id, bytes: bytes, conversation: key))
            }
        }
        return events
    }

    /// The events with these ids (ascending), those still queued; read once per attempt of a batch.
    public func events(ids: [Int64]) throws(QueueError) -> [QueuedEvent] {
        var events: [QueuedEvent] = []
        events.reserveCapacity(ids.count)
        defer { runQuery.reset() }
        for run in IDRuns(ids) {
            runQuery.bind(1, run.lowerBound)
            runQuery.bind(2, run.upperBound)
            while try runQuery.step() {
                events.append(
                    QueuedEvent(id: runQuery.int64(0), receivedAt: runQuery.double(1), body: runQuery.bytes(2))
                )
            }
            runQuery.reset()
        }
        return events
    }

    /// The request body of the events with these ids (ascending) still queued,
    /// `{"events":[e1,e2,...]}` (`RequestBody`), written from SQLite's row buffers straight into the
    /// buffer the HTTP client sends: no array per event, no second copy of the body. Nil when none
    /// is queued any more. `spare`: an earlier body's buffer to write into (its pages already mapped).
    func requestBody(ids: [Int64], spare: consuming ByteBuffer = ByteBuffer()) throws(QueueError) -> RequestRows? {
        // Consumed, not copied: a second reference would make `clear()` copy the buffer into fresh pages.
        var body = consume spare
        body.clear()
        var found: [Int64] = []
        var conversations: [UInt64] = []
        let bodyQuery: SQLiteStatement
        if let prepared = preparedBodyQuery {
            bodyQuery = prepared
        } else {
            bodyQuery = try db.prepare("SELECT body, id, conversation FROM events WHERE id BETWEEN ? AND ? ORDER BY id")
            preparedBodyQuery = bodyQuery
        }
        defer { bodyQuery.reset() }
        for run in IDRuns(ids) {
            bodyQuery.bind(1, run.lowerBound)
            bodyQuery.bind(2, run.upperBound)
            while try bodyQuery.step() {
                if found.isEmpty {
                    body.reserveCapacity(Self.bodyCapacity(ids.count))
                    body.writeStaticString("{\"events\":[")
                    found.reserveCapacity(ids.count)
                    conversations.reserveCapacity(ids.count)
                } else {
                    body.writeInteger(UInt8(ascii: ","))
                }
                bodyQuery.withBytes(0) { _ = body.writeBytes($0) }
                found.append(bodyQuery.int64(1))
                // Rows older than v5 have no key of their own: read it from the body, as the scan does.
                conversations.append(
                    bodyQuery.isNull(2)
                        ? bodyQuery.withBytes(0) { ConversationKey.of(event: $0) }
                        : UInt64(bitPattern: bodyQuery.int64(2))
                )
            }
            bodyQuery.reset()
        }
        guard !found.isEmpty else { return nil }
        body.writeStaticString("]}")
        return RequestRows(body: body, ids: found, conversations: conversations)
    }

    /// A batch's request body and, for the delivery log, the ids it holds and their conversations.
    struct RequestRows {
        var body: ByteBuffer
        var ids: [Int64]
        var conversations: [UInt64]
    }

    /// A first guess at a body's size (events are a few hundred bytes); the buffer grows past it.
    static func bodyCapacity(_ events: Int) -> Int {
        RequestBody.size(eventCount: events, eventBytes: events * 512)
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

    /// Dead-lettered events (trace exports are counted by `deadTraceCount`).
    public func deadLetterCount() throws(QueueError) -> Int {
        let filter = try hasTraces() ? " WHERE kind = 'events'" : ""
        return Int(try db.scalarInt("SELECT count(*) FROM dead_letters\(filter)") ?? 0)
    }

    public func oldestReceivedAt() throws(QueueError) -> Double? {
        let statement = try db.prepare("SELECT received_at FROM events ORDER BY id LIMIT 1")
        guard try statement.step() else { return nil }
        return statement.double(0)
    }

    /// The memory snapshot the daemon `pid` last recorded; nil when it recorded none (or the queue
    /// predates the table).
    public func memorySnapshot(pid: Int32) throws(QueueError) -> MemoryBudget.Snapshot? {
        guard try db.scalarInt("SELECT count(*) FROM sqlite_master WHERE name = 'memory_state'") == 1 else {
            return nil
        }
        let statement = try db.prepare(
            "SELECT pid, buffered_bytes, max_buffered_bytes, read_pauses FROM memory_state WHERE id = 1"
        )
        guard try statement.step(), Int32(statement.int64(0)) == pid else { return nil }
        return MemoryBudget.Snapshot(
            bufferedBytes: Int(statement.int64(1)),
            maxBufferedBytes: Int(statement.int64(2)),
            readPauses: Int(statement.int64(3))
        )
    }

    public func readStatus() throws(QueueError) -> DeliveryStatus {
        try readStatus(table: "delivery_state")
    }

    /// `table`: `delivery_state` (events) or `trace_delivery_state`.
    func readStatus(table: String) throws(QueueError) -> DeliveryStatus {
        // A queue older than v3 (read by modactl, never migrated by it) has no concurrency column.
        let hasConcurrency =
            try db.scalarInt("SELECT count(*) FROM pragma_table_info('\(table)') WHERE name = 'concurrency'")
            == 1
        if table != "delivery_state", try !hasTraces() { return DeliveryStatus() }
        let statement = try db.prepare(
            "SELECT state, last_success_at, last_error_status, last_error_message, last_error_at, attempts, "
                + "next_attempt_at, \(hasConcurrency ? "concurrency" : "1") FROM \(table) WHERE id = 1"
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
        status.concurrency = max(1, Int(statement.int64(7)))
        return status
    }
}
