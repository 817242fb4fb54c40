/// Inserts a group commit's events into the queue, 32 rows per statement: each execution of a
/// statement has a cost of its own (the step's setup, opening the table, the reset), which one row per
/// statement paid per event. Measured alone on the system's SQLite with the queue's table and pages
/// (800k events of 360 bytes, transactions of 2,000): 0.80-0.83 µs of CPU per row one at a time,
/// 0.66-0.68 in statements of 32 (`docs/measurements/event-inserts.c`).
///
/// Bodies are bound in place (no copy into SQLite): every row added must stay valid until `flush`,
/// which the caller runs before the bodies go (`PreparedLines.withBodies`) and before anything else
/// touches the events table in the transaction.
final class EventInserter {
    static let rowsPerStatement = 32

    struct Row {
        var id: Int64
        var body: UnsafeRawBufferPointer
        var conversation: UInt64
        var receivedAt: Double
    }

    private let single: SQLiteStatement
    private let many: SQLiteStatement
    private var pending: [Row] = []

    init(db: SQLiteConnection) throws(QueueError) {
        let columns = "INSERT INTO events (received_at, body, conversation, size, id) VALUES "
        single = try db.prepare(columns + "(?, ?, ?, ?, ?)")
        many = try db.prepare(
            columns + Array(repeating: "(?, ?, ?, ?, ?)", count: Self.rowsPerStatement).joined(separator: ", ")
        )
        pending.reserveCapacity(Self.rowsPerStatement)
    }

    func add(_ row: Row) throws(QueueError) {
        pending.append(row)
        guard pending.count == Self.rowsPerStatement else { return }
        defer { pending.removeAll(keepingCapacity: true) }
        for (index, row) in pending.enumerated() {
            Self.bind(row, to: many, at: Int32(index * 5))
        }
        try many.run()
    }

    /// Inserts the rows still pending, one statement each.
    func flush() throws(QueueError) {
        defer { pending.removeAll(keepingCapacity: true) }
        for row in pending {
            Self.bind(row, to: single, at: 0)
            try single.run()
        }
    }

    /// Forgets pending rows whose transaction failed.
    func discard() {
        pending.removeAll(keepingCapacity: true)
    }

    private static func bind(_ row: Row, to statement: SQLiteStatement, at offset: Int32) {
        statement.bind(offset + 1, row.receivedAt)
        statement.bindText(offset + 2, row.body, copy: false)
        statement.bind(offset + 3, Int64(bitPattern: row.conversation))
        statement.bind(offset + 4, Int64(row.body.count))
        statement.bind(offset + 5, row.id)
    }
}
