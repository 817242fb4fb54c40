import CSQLite

/// Deletes one chunk of delivered events from the queue's head (`HeadCutSchedule` says when), on
/// the writer's connection, in a transaction of its own.
///
/// The chunk is committed without an fsync of its own: the next group commit's fsync covers it
/// (the WAL is written in order), and a chunk lost in a crash loses nothing, since its ids are
/// still in `delivered` until it commits and a restart deletes them (`purgeDelivered`). The two
/// `PRAGMA synchronous` statements are prepared once: switching costs a step each, not a parse.
final class HeadCutter {
    private let db: SQLiteConnection
    private let counters: QueueCounters
    private let chunk: SQLiteStatement
    private let deleteThrough: SQLiteStatement
    private let forget: SQLiteStatement
    private let unsynced: SQLiteStatement
    private let synced: SQLiteStatement

    init(db: SQLiteConnection, counters: QueueCounters, durability: AgentConfig.Durability) throws(QueueError) {
        self.db = db
        self.counters = counters
        // The chunk is measured first and then deleted as one id range: a `DELETE ... RETURNING` of the
        // same rows materialised every returned row and cost twice the CPU per row deleted (1.46 against
        // 1.05 µs per event in chunks of 100, 0.88 against 0.50 in chunks of 500; docs/performance.md).
        chunk = try db.prepare(
            "SELECT count(*), sum(s), max(id) FROM "
                + "(SELECT id, \(QueueWrite.storedSize) AS s FROM events WHERE id <= ? ORDER BY id LIMIT ?)"
        )
        deleteThrough = try db.prepare("DELETE FROM events WHERE id <= ?")
        forget = try db.prepare("DELETE FROM delivered WHERE first <= ?1 AND last <= ?1")
        unsynced = try db.prepare("PRAGMA synchronous = OFF")
        synced = try db.prepare("PRAGMA synchronous = \(durability == .full ? "FULL" : "NORMAL")")
    }

    /// Deletes up to `rows` events with ids up to `target`; returns the id through which the head
    /// is now cut (`target` once fewer rows than that were left).
    func cut(through target: Int64, rows: Int64, after done: Int64) throws(QueueError) -> Int64 {
        try unsynced.run()
        defer { try? synced.run() }
        return try db.transaction { () throws(QueueError) -> Int64 in
            chunk.bind(1, target)
            chunk.bind(2, rows)
            defer { chunk.reset() }
            // An aggregate: always one row.
            guard try chunk.step() else {
                throw QueueError.sqlite(code: SQLITE_ERROR, message: "no row", context: "measuring the head's chunk")
            }
            let events = chunk.int64(0)
            let bytes = chunk.int64(1)
            let last = chunk.isNull(2) ? done : max(done, chunk.int64(2))
            if events > 0 {
                deleteThrough.bind(1, last)
                try deleteThrough.run()
            }
            let through = events < rows ? target : last
            forget.bind(1, through)
            try forget.run()
            try counters.add(.delivered(events, bytes: bytes))
            return through
        }
    }
}
