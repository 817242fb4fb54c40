/// How full the queue is, as its writer last committed it: what `/metrics`, `/health`, systemd's
/// `STATUS=` and the heartbeat read, without SQL and without waiting for the writer.
public struct QueueLevels: Sendable, Equatable {
    public var queuedEvents = 0
    public var queuedBytes = 0
    public var droppedEvents = 0
    public var deliveredEvents = 0
    /// received_at of the oldest queued event; nil when none is queued.
    public var oldestReceivedAt: Double?
    public var queuedExports = 0
    public var exportBytes = 0
    public var deliveredExports = 0
    public var oldestExportReceivedAt: Double?

    public init() {}
}

/// Reads `QueueLevels` on the writer's connection, after each of its transactions: two counter
/// rows and the first row of each queue by id, one prepared statement (a few microseconds).
final class QueueLevelsReader {
    private let query: SQLiteStatement

    init(db: SQLiteConnection) throws(QueueError) {
        query = try db.prepare(
            "SELECT c.queued_events, c.queued_bytes, c.dropped_events, c.delivered_events, "
                + "t.queued_exports, t.queued_bytes, t.delivered_exports, "
                + "(SELECT received_at FROM events ORDER BY id LIMIT 1), "
                + "(SELECT received_at FROM traces ORDER BY id LIMIT 1) "
                + "FROM counters c, trace_counters t WHERE c.id = 1 AND t.id = 1"
        )
    }

    func read() throws(QueueError) -> QueueLevels {
        defer { query.reset() }
        var levels = QueueLevels()
        guard try query.step() else { return levels }
        levels.queuedEvents = Int(query.int64(0))
        levels.queuedBytes = Int(query.int64(1))
        levels.droppedEvents = Int(query.int64(2))
        levels.deliveredEvents = Int(query.int64(3))
        levels.queuedExports = Int(query.int64(4))
        levels.exportBytes = Int(query.int64(5))
        levels.deliveredExports = Int(query.int64(6))
        levels.oldestReceivedAt = query.isNull(7) ? nil : query.double(7)
        levels.oldestExportReceivedAt = query.isNull(8) ? nil : query.double(8)
        return levels
    }
}
