/// Answers `modactl trace` from the queue database alone, so it works with the daemon stopped:
/// the delivery log says when and how an event left (delivered or dead-lettered), the queue and
/// the dead letters say where it is now. The log is written in the transaction that removes the
/// events, so an event is never shown delivered while it is still to be sent. Only "in flight"
/// lives in the daemon's memory; `inFlight` brings it when the daemon answers.
public final class EventTracer {
    private let db: SQLiteConnection
    private let hasLog: Bool

    public init(queuePath: String) throws(QueueError) {
        db = try QueueDatabase.openReadOnly(path: queuePath)
        hasLog = try db.scalarInt("SELECT count(*) FROM sqlite_master WHERE name = 'delivery_log_ids'") == 1
    }

    public func close() { db.close() }

    /// What the delivery log holds, as `trace.maxBytes` counts it (each entry's recorded size).
    public func logBytes() throws(QueueError) -> Int {
        guard hasLog else { return 0 }
        return Int(try db.scalarInt("SELECT coalesce(sum(bytes), 0) FROM delivery_log") ?? 0)
    }

    /// The state of each id, in the order asked.
    public func trace(ids: [Int64], inFlight: [InFlightBoard.Entry] = []) throws(QueueError) -> [EventTrace] {
        var states: [Int64: EventTrace.State] = [:]
        if hasLog {
            let query = try db.prepare(
                "SELECT l.at, l.status, l.request_id, l.latency, l.message, l.dead_letter_id, i.first, i.last, i.runs "
                    + "FROM delivery_log_ids i JOIN delivery_log l ON l.id = i.entry "
                    + "WHERE i.first BETWEEN ?1 - \(DeliveryRecord.maxSpan) AND ?1 AND i.last >= ?1 ORDER BY i.entry"
            )
            for id in ids {
                query.bind(1, id)
                while try query.step() {
                    let runs = IDRunsCoding.decode(
                        first: query.int64(6),
                        last: query.int64(7),
                        runs: Self.blob(query, 8)
                    )
                    if runs.contains(where: { $0.contains(id) }) { states[id] = Self.logged(query) }
                }
                query.reset()
            }
        }
        let deadLetters = try db.prepare(
            "SELECT id, dead_at, status, error, request_id FROM dead_letters WHERE event_id = ? AND kind = 'events' "
                + "ORDER BY id DESC LIMIT 1"
        )
        let queued = try db.prepare("SELECT received_at FROM events WHERE id = ?")
        for id in ids where states[id] == nil {
            deadLetters.bind(1, id)
            if try deadLetters.step() {
                states[id] = Self.deadLetter(deadLetters, column: 0)
            }
            deadLetters.reset()
            guard states[id] == nil else { continue }
            queued.bind(1, id)
            if try queued.step() { states[id] = Self.queuedState(id, receivedAt: queued.double(0), inFlight: inFlight) }
            queued.reset()
        }
        return ids.map { EventTrace(id: $0, state: states[$0] ?? .unknown) }
    }

    /// Every event of one conversation known to the queue, dead letters and delivery log, by id;
    /// `since`: only those received (queued), delivered or dead-lettered at or after it.
    public func trace(
        conversation: String,
        since: Double? = nil,
        inFlight: [InFlightBoard.Entry] = []
    ) throws(QueueError) -> [EventTrace] {
        let key = ConversationKey.of(id: conversation)
        let after = since ?? -Double.infinity
        var states: [Int64: EventTrace.State] = [:]
        // Lowest priority first: what the log says overrides the queue (delivered, not yet cut).
        let queued = try db.prepare(
            "SELECT id, received_at, CASE WHEN conversation IS NULL THEN body END FROM events "
                + "WHERE (conversation = ? OR conversation IS NULL) AND received_at >= ?"
        )
        queued.bind(1, Int64(bitPattern: key))
        queued.bind(2, after)
        while try queued.step() {
            if !queued.isNull(2), ConversationKey.of(event: queued.bytes(2)) != key { continue }
            let id = queued.int64(0)
            states[id] = Self.queuedState(id, receivedAt: queued.double(1), inFlight: inFlight)
        }
        queued.reset()
        let deadLetters = try db.prepare(
            "SELECT event_id, id, dead_at, status, error, request_id FROM dead_letters "
                + "WHERE conversation_id = ? AND kind = 'events' AND dead_at >= ? ORDER BY id"
        )
        deadLetters.bind(1, conversation)
        deadLetters.bind(2, after)
        while try deadLetters.step() {
            states[deadLetters.int64(0)] = Self.deadLetter(deadLetters, column: 1)
        }
        deadLetters.reset()
        if hasLog {
            let logged = try db.prepare(
                "SELECT l.at, l.status, l.request_id, l.latency, l.message, l.dead_letter_id, i.first, i.last, i.runs "
                    + "FROM delivery_log_ids i JOIN delivery_log l ON l.id = i.entry "
                    + "WHERE i.conversation = ? AND l.at >= ? ORDER BY i.entry"
            )
            logged.bind(1, Int64(bitPattern: key))
            logged.bind(2, after)
            while try logged.step() {
                let state = Self.logged(logged)
                for run in IDRunsCoding.decode(
                    first: logged.int64(6),
                    last: logged.int64(7),
                    runs: Self.blob(logged, 8)
                ) {
                    for id in run { states[id] = state }
                }
            }
            logged.reset()
        }
        return states.keys.sorted().map { EventTrace(id: $0, state: states[$0] ?? .unknown) }
    }

    private static func queuedState(
        _ id: Int64,
        receivedAt: Double,
        inFlight: [InFlightBoard.Entry]
    ) -> EventTrace.State {
        // Batches hold a few thousand ids in order: a binary search each.
        for entry in inFlight
        where entry.ids.first.map({ $0 <= id }) == true && entry.ids.last.map({ $0 >= id }) == true {
            if Self.contains(entry.ids, id) {
                return .inFlight(receivedAt: receivedAt, since: entry.since, attempt: entry.attempt)
            }
        }
        return .queued(receivedAt: receivedAt)
    }

    private static func contains(_ sorted: [Int64], _ id: Int64) -> Bool {
        var low = 0
        var high = sorted.count
        while low < high {
            let middle = (low + high) / 2
            if sorted[middle] < id { low = middle + 1 } else { high = middle }
        }
        return low < sorted.count && sorted[low] == id
    }

    /// A `delivery_log` row (columns 0-5) as a state.
    private static func logged(_ row: SQLiteStatement) -> EventTrace.State {
        let latency = row.isNull(3) ? nil : row.double(3)
        if row.isNull(4) {
            return .delivered(at: row.double(0), status: Int(row.int64(1)), requestId: row.text(2), latency: latency)
        }
        return .deadLettered(
            at: row.double(0),
            status: Int(row.int64(1)),
            message: row.text(4) ?? "",
            deadLetterID: row.isNull(5) ? nil : row.int64(5),
            requestId: row.text(2),
            latency: latency
        )
    }

    /// A `dead_letters` row from `column`: id, dead_at, status, error, request_id.
    private static func deadLetter(_ row: SQLiteStatement, column: Int32) -> EventTrace.State {
        .deadLettered(
            at: row.double(column + 1),
            status: Int(row.int64(column + 2)),
            message: row.text(column + 3) ?? "",
            deadLetterID: row.int64(column),
            requestId: row.text(column + 4),
            latency: nil
        )
    }

    private static func blob(_ row: SQLiteStatement, _ column: Int32) -> [UInt8]? {
        row.isNull(column) ? nil : row.bytes(column)
    }
}
