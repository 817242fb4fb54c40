import Logging

/// Keeps the delivery log within `trace.retentionHours` and `trace.maxBytes` (docs/tracing.md).
/// Runs on the queue writer's queue, in transactions of its own between commits, never inside one
/// that acknowledges lines: a chunk is `chunkEntries` requests (a millisecond or so), taken when the
/// writer is idle, or between commits at most every `busyInterval` when it never is.
final class DeliveryLogPruner {
    private let db: SQLiteConnection
    private let maxBytes: Int64
    private let retentionSeconds: Double
    private let synchronous: String
    private let logger: Logger
    /// What the log takes (`delivery_log.bytes` summed), kept here so no commit has to ask.
    private(set) var bytes: Int64 = 0
    private var oldestAt: Double?
    private var lastBusyPrune = ContinuousClock.now
    private var failed = false
    private let chunk: SQLiteStatement

    static let chunkEntries = 64
    static let busyInterval = Duration.milliseconds(250)

    init(db: SQLiteConnection, settings: AgentConfig.Trace, synchronous: String, logger: Logger) throws(QueueError) {
        self.db = db
        maxBytes = Int64(settings.maxBytes)
        retentionSeconds = settings.retentionHours * 3600
        self.synchronous = synchronous
        self.logger = logger
        bytes = try db.scalarInt("SELECT coalesce(sum(bytes), 0) FROM delivery_log") ?? 0
        oldestAt = try Self.oldest(in: db)
        chunk = try db.prepare(
            "DELETE FROM delivery_log WHERE id IN (SELECT id FROM delivery_log WHERE ?1 OR at < ?2 ORDER BY id LIMIT "
                + "\(Self.chunkEntries)) RETURNING id, bytes"
        )
    }

    /// A committed write added `record` to the log.
    func added(_ record: DeliveryRecord) {
        bytes += record.storedBytes
        oldestAt = min(oldestAt ?? record.at, record.at)
    }

    /// Whether some of the log is past its bounds.
    var isDue: Bool {
        guard !failed else { return false }
        if bytes > maxBytes { return true }
        guard let oldestAt else { return false }
        return oldestAt < Timestamp.now() - retentionSeconds
    }

    /// Between commits of a writer that is never idle: a chunk now and then.
    func pruneIfBusyDue() {
        guard isDue, ContinuousClock.now - lastBusyPrune >= Self.busyInterval else { return }
        lastBusyPrune = .now
        prune()
    }

    /// Deletes one chunk of the oldest entries past the bounds, in a transaction of its own. Like the
    /// queue's cut, it needs no fsync of its own: a chunk lost in a crash is pruned again.
    func prune() {
        try? db.execute("PRAGMA synchronous = OFF")
        defer { try? db.execute("PRAGMA synchronous = \(synchronous)") }
        do {
            let (freed, oldest) = try db.transaction { () throws(QueueError) -> (Int64, Double?) in
                chunk.bind(1, Int64(bytes > maxBytes ? 1 : 0))
                chunk.bind(2, Timestamp.now() - retentionSeconds)
                var freed: Int64 = 0
                var through: Int64 = 0
                while try chunk.step() {
                    through = max(through, chunk.int64(0))
                    freed += chunk.int64(1)
                }
                chunk.reset()
                if through > 0 { try db.execute("DELETE FROM delivery_log_ids WHERE entry <= \(through)") }
                return (freed, try Self.oldest(in: db))
            }
            bytes = max(0, bytes - freed)
            oldestAt = oldest
            if freed == 0 && bytes > maxBytes {
                bytes = try db.scalarInt("SELECT coalesce(sum(bytes), 0) FROM delivery_log") ?? 0
            }
        } catch {
            chunk.reset()
            // Tried again after the next start; the log only grows meanwhile, the queue is unaffected.
            failed = true
            logger.error(
                "cannot prune the delivery log; it may grow past trace.maxBytes until the next start",
                metadata: ["error": "\(error)"]
            )
        }
    }

    private static func oldest(in db: SQLiteConnection) throws(QueueError) -> Double? {
        let statement = try db.prepare("SELECT at FROM delivery_log ORDER BY id LIMIT 1")
        defer { statement.reset() }
        return try statement.step() ? statement.double(0) : nil
    }
}
