/// The one place the `counters` and `trace_counters` rows change. Every statement that adds rows
/// to `events` or `traces`, or removes them, reports what it did here in the same transaction, as
/// a change (never an absolute value and never clamped), so the rows match the tables exactly and
/// any drift would show instead of being hidden (`QueueCountersTests` checks them after a chaos run).
/// Not triggers: a trigger runs an UPDATE per row, a cost on every event ingested; this is one
/// UPDATE per transaction.
final class QueueCounters {
    /// A change to the events' counters.
    struct Events: Equatable {
        var queued: Int64 = 0
        var bytes: Int64 = 0
        var dropped: Int64 = 0
        var delivered: Int64 = 0
        /// The last id given by this change (0: none): the row keeps the highest.
        var lastID: Int64 = 0

        var isEmpty: Bool { self == Events() }

        /// Events that left the queue delivered (or were known delivered when they were removed).
        static func delivered(_ events: Int64, bytes: Int64) -> Events {
            Events(queued: -events, bytes: -bytes, delivered: events)
        }
    }

    /// A change to the trace exports' counters.
    struct Traces: Equatable {
        var queued: Int64 = 0
        var bytes: Int64 = 0
        var delivered: Int64 = 0

        var isEmpty: Bool { self == Traces() }
    }

    /// What the rows hold now, for the room check of a group commit.
    struct Totals {
        var events: Int64
        var eventBytes: Int64
        var traceExports: Int64
        var traceBytes: Int64
        /// The highest event id this queue has ever given (the next is one more): ids never repeat.
        var lastEventID: Int64
    }

    private let db: SQLiteConnection
    private let addEvents: SQLiteStatement
    private let hasIDMark: Bool
    /// Prepared on first use: an operator's command may open a queue older than the traces table (v6).
    private var addTraces: SQLiteStatement?
    private var readTotals: SQLiteStatement?

    init(_ db: SQLiteConnection) throws(QueueError) {
        self.db = db
        // An operator's command may change a queue older than v8, which has no id mark (its ids come from
        // AUTOINCREMENT): its statement leaves the mark out.
        hasIDMark = try Self.hasIDMark(db)
        addEvents = try db.prepare(
            "UPDATE counters SET queued_events = queued_events + ?1, queued_bytes = queued_bytes + ?2, "
                + "dropped_events = dropped_events + ?3, delivered_events = delivered_events + ?4"
                + (hasIDMark ? ", last_event_id = max(last_event_id, ?5)" : "") + " WHERE id = 1"
        )
    }

    /// Whether the queue keeps its event id mark in `counters` (v8 on).
    static func hasIDMark(_ db: SQLiteConnection) throws(QueueError) -> Bool {
        try (db.scalarInt("PRAGMA user_version") ?? 0) >= 8
    }

    /// The highest event id the queue has given: the mark, or a row above it that a hand which did not
    /// move the mark inserted (the last row of the table's b-tree: one page, cached). v8 on.
    static let highestEventID = "max(last_event_id, coalesce((SELECT max(id) FROM events), 0))"

    func add(_ change: Events) throws(QueueError) {
        guard !change.isEmpty else { return }
        addEvents.bind(1, change.queued)
        addEvents.bind(2, change.bytes)
        addEvents.bind(3, change.dropped)
        addEvents.bind(4, change.delivered)
        if hasIDMark { addEvents.bind(5, change.lastID) }
        try addEvents.run()
    }

    func add(_ change: Traces) throws(QueueError) {
        guard !change.isEmpty else { return }
        let addTraces: SQLiteStatement
        if let prepared = self.addTraces {
            addTraces = prepared
        } else {
            addTraces = try db.prepare(
                "UPDATE trace_counters SET queued_exports = queued_exports + ?, queued_bytes = queued_bytes + ?, "
                    + "delivered_exports = delivered_exports + ? WHERE id = 1"
            )
            self.addTraces = addTraces
        }
        addTraces.bind(1, change.queued)
        addTraces.bind(2, change.bytes)
        addTraces.bind(3, change.delivered)
        try addTraces.run()
    }

    func totals() throws(QueueError) -> Totals {
        let readTotals: SQLiteStatement
        if let prepared = self.readTotals {
            readTotals = prepared
        } else {
            readTotals = try db.prepare(
                "SELECT c.queued_events, c.queued_bytes, t.queued_exports, t.queued_bytes, \(Self.highestEventID) "
                    + "FROM counters c, trace_counters t WHERE c.id = 1 AND t.id = 1"
            )
            self.readTotals = readTotals
        }
        defer { readTotals.reset() }
        guard try readTotals.step() else {
            throw .sqlite(code: 0, message: "the counters rows are missing", context: "reading the queue's counters")
        }
        return Totals(
            events: readTotals.int64(0),
            eventBytes: readTotals.int64(1),
            traceExports: readTotals.int64(2),
            traceBytes: readTotals.int64(3),
            lastEventID: readTotals.int64(4)
        )
    }
}
