/// A change delivery asks of the queue. The queue's writer applies it inside its next group
/// commit (its own savepoint, the group's transaction and fsync), so delivery never races ingest
/// for SQLite's write lock and never opens a second writer on the same file.
public enum QueueWrite: Sendable {
    /// Records a delivered batch (its ids, ascending, in `delivered`) and the success, in one
    /// transaction; every event up to `through` is delivered or gone, so the writer may then cut the
    /// queue's head there.
    ///
    /// Lanes interleave in the queue, so a batch's own rows share their pages with other lanes':
    /// deleting them one run at a time rewrote (and rebalanced) most pages once per lane, the
    /// largest part of a commit and of its fsync. Cut only from the head, the queue frees whole
    /// pages, as a single lane did; until the cut passes them, `delivered` keeps the batch's ids
    /// so a restart never sends them again (`purgeDelivered`).
    /// `log`: the request for the delivery log, written in the same transaction (docs/tracing.md).
    case markDelivered(ids: [Int64], through: Int64, status: DeliveryStatus, log: DeliveryRecord? = nil)
    /// Moves one event to the dead letters with the API's verdict (and logs the refusal).
    case deadLetter(QueuedEvent, fault: DeliveryFault, at: Double, status: DeliveryStatus, log: DeliveryRecord? = nil)
    case status(DeliveryStatus)
    /// The same three for the trace exports' queue.
    case markTracesDelivered(ids: [Int64], status: DeliveryStatus)
    case deadLetterTrace(QueuedTrace, fault: DeliveryFault, at: Double, status: DeliveryStatus)
    case traceStatus(DeliveryStatus)
    /// The heartbeat's snapshot of the memory budget, for `modactl status`.
    case memory(MemoryBudget.Snapshot, pid: Int32)

    /// The delivery log entry this write adds, if any.
    var deliveryRecord: DeliveryRecord? {
        switch self {
        case .markDelivered(_, _, _, let log), .deadLetter(_, _, _, _, let log): return log
        default: return nil
        }
    }

    var isRemoval: Bool {
        switch self {
        case .markDelivered, .markTracesDelivered: return true
        default: return false
        }
    }

    /// Carries out the write in a savepoint of the writer's transaction; what it adds to or
    /// removes from the queue goes to `counters`, the one place they change.
    func apply(to db: SQLiteConnection, counters: QueueCounters) throws(QueueError) {
        try db.transaction { () throws(QueueError) in
            switch self {
            case .markDelivered(let ids, _, let status, let log):
                // The writer deletes the rows up to `through` afterwards (`QueueWriter.cut`).
                let record = try db.prepare("INSERT OR REPLACE INTO delivered (first, last) VALUES (?, ?)")
                for run in IDRuns(ids) {
                    record.bind(1, run.lowerBound)
                    record.bind(2, run.upperBound)
                    try record.run()
                }
                if let log { try DeliveryLog.insert(log, deadLetterID: nil, into: db) }
                try Self.write(status, to: db)
            case .deadLetter(let event, let fault, let time, let status, let log):
                try Self.insertDeadLetter(event, fault: fault, at: time, into: db)
                if let log { try DeliveryLog.insert(log, deadLetterID: db.lastInsertRowID, into: db) }
                let (events, bytes) = try Self.delete(ids: [event.id], in: db)
                try counters.add(QueueCounters.Events(queued: -events, bytes: -bytes))
                try Self.write(status, to: db)
            case .status(let status):
                try Self.write(status, to: db)
            case .markTracesDelivered(let ids, let status):
                let (exports, bytes) = try Self.deleteTraces(ids: ids, in: db)
                try counters.add(QueueCounters.Traces(queued: -exports, bytes: -bytes, delivered: exports))
                try Self.write(status, to: db, table: "trace_delivery_state")
            case .deadLetterTrace(let trace, let fault, let time, let status):
                try Self.insertDeadLetter(trace, fault: fault, at: time, into: db)
                let (exports, bytes) = try Self.deleteTraces(ids: [trace.id], in: db)
                try counters.add(QueueCounters.Traces(queued: -exports, bytes: -bytes))
                try Self.write(status, to: db, table: "trace_delivery_state")
            case .traceStatus(let status):
                try Self.write(status, to: db, table: "trace_delivery_state")
            case .memory(let snapshot, let pid):
                let statement = try db.prepare(
                    "INSERT OR REPLACE INTO memory_state (id, pid, buffered_bytes, max_buffered_bytes, read_pauses) "
                        + "VALUES (1, ?, ?, ?, ?)"
                )
                statement.bind(1, Int64(pid))
                statement.bind(2, Int64(snapshot.bufferedBytes))
                statement.bind(3, Int64(snapshot.maxBufferedBytes))
                statement.bind(4, Int64(snapshot.readPauses))
                try statement.run()
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
        let row = DeadLetterRow(
            itemID: event.id,
            receivedAt: event.receivedAt,
            conversationId: summary.conversationId,
            preview: summary.preview,
            kind: "events",
            contentType: nil
        )
        try row.insert(fault: fault, at: time, into: db) { insert in
            event.body.withUnsafeBytes { insert.bindText(9, $0) }
        }
    }

    private static func insertDeadLetter(
        _ trace: QueuedTrace,
        fault: DeliveryFault,
        at time: Double,
        into db: SQLiteConnection
    ) throws(QueueError) {
        let row = DeadLetterRow(
            itemID: trace.id,
            receivedAt: trace.receivedAt,
            conversationId: nil,
            preview: TraceSummary(trace.export).preview,
            kind: "traces",
            contentType: trace.export.contentType
        )
        // An export is stored as received: protobuf is bytes, not text.
        try row.insert(fault: fault, at: time, into: db) { insert in
            trace.export.body.withUnsafeBytes { insert.bindBlob(9, $0) }
        }
    }

    private static func deleteTraces(ids: [Int64], in db: SQLiteConnection) throws(QueueError) -> (Int64, Int64) {
        try delete(IDRuns(ids), from: "traces", size: "length(body)", in: db)
    }

    /// Deletes the delivered events still in the queue (`markDelivered`) and forgets them; returns
    /// what went. The caller counts them delivered.
    static func purgeDelivered(in db: SQLiteConnection) throws(QueueError) -> (events: Int64, bytes: Int64) {
        let ranges = try db.prepare("SELECT first, last FROM delivered ORDER BY first")
        var runs: [ClosedRange<Int64>] = []
        while try ranges.step() {
            let (first, last) = (ranges.int64(0), ranges.int64(1))
            if first <= last { runs.append(first...last) }
        }
        ranges.reset()
        let removed = try delete(runs, in: db)
        try db.execute("DELETE FROM delivered")
        return removed
    }

    private static func delete(ids: [Int64], in db: SQLiteConnection) throws(QueueError) -> (events: Int64, bytes: Int64) {
        try delete(IDRuns(ids), in: db)
    }

    /// Deletes each run of ids with one statement; returns how many rows and bytes went.
    private static func delete<Runs: Sequence<ClosedRange<Int64>>>(
        _ runs: Runs,
        from table: String = "events",
        size: String = storedSize,
        in db: SQLiteConnection
    ) throws(QueueError) -> (events: Int64, bytes: Int64) {
        let statement = try db.prepare("DELETE FROM \(table) WHERE id BETWEEN ? AND ? RETURNING \(size)")
        var events: Int64 = 0
        var bytes: Int64 = 0
        for run in runs {
            statement.bind(1, run.lowerBound)
            statement.bind(2, run.upperBound)
            while try statement.step() {
                events += 1
                bytes += statement.int64(0)
            }
            statement.reset()
        }
        return (events, bytes)
    }

    /// A row's size in bytes: the v5 column, or the body's for rows written before it.
    static let storedSize = "coalesce(size, length(CAST(body AS BLOB)))"

    private static func write(
        _ status: DeliveryStatus,
        to db: SQLiteConnection,
        table: String = "delivery_state"
    ) throws(QueueError) {
        let statement = try db.prepare(
            "UPDATE \(table) SET state = ?, last_success_at = ?, last_error_status = ?, "
                + "last_error_message = ?, last_error_at = ?, attempts = ?, next_attempt_at = ?, concurrency = ? "
                + "WHERE id = 1"
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
        statement.bind(8, Int64(status.concurrency))
        try statement.run()
    }

    private static func bindOptional(_ statement: SQLiteStatement, _ index: Int32, _ value: Double?) {
        if let value { statement.bind(index, value) } else { statement.bind(index, nil as String?) }
    }
}

/// Ascending ids as runs of consecutive ones: `[1, 2, 3, 7, 9, 10]` → `1...3, 7...7, 9...10`.
struct IDRuns: Sequence, IteratorProtocol {
    private let ids: [Int64]
    private var index = 0

    init(_ ids: [Int64]) { self.ids = ids }

    mutating func next() -> ClosedRange<Int64>? {
        guard index < ids.count else { return nil }
        let first = ids[index]
        var last = first
        index += 1
        while index < ids.count, ids[index] == last + 1 {
            last += 1
            index += 1
        }
        return first...last
    }
}

/// One row of `dead_letters`, for either kind: what the item was and why the API refused it.
private struct DeadLetterRow {
    var itemID: Int64
    var receivedAt: Double
    var conversationId: String?
    var preview: String?
    var kind: String
    var contentType: String?

    /// `bindBody` binds column 9, the body as it was queued.
    func insert(
        fault: DeliveryFault,
        at time: Double,
        into db: SQLiteConnection,
        bindBody: (SQLiteStatement) -> Void
    ) throws(QueueError) {
        let insert = try db.prepare(
            "INSERT INTO dead_letters (event_id, received_at, dead_at, status, error, request_id, "
                + "conversation_id, preview, body, kind, content_type) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        insert.bind(1, itemID)
        insert.bind(2, receivedAt)
        insert.bind(3, time)
        insert.bind(4, Int64(fault.status ?? 0))
        insert.bind(5, fault.message)
        insert.bind(6, fault.requestId)
        insert.bind(7, conversationId)
        insert.bind(8, preview)
        bindBody(insert)
        insert.bind(10, kind)
        insert.bind(11, contentType)
        try insert.run()
    }
}
