import CSQLite
import Foundation

/// What a queue database holds, read directly with SQLite (read-only, beside a live daemon):
/// tests check the agent's promises against the file, not against the agent's own report.
public struct QueueSnapshot: Sendable {
    public var events: [String]
    public var deadLetters: [String]
    public var counters: [String: Int64]
    public var integrity: String

    public init(path: String) throws {
        var db: OpaquePointer?
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, nil) == SQLITE_OK, let db else {
            throw POSIXError(.ENOENT)
        }
        defer { sqlite3_close_v2(db) }
        sqlite3_busy_timeout(db, 10_000)
        events = Self.strings(db, "SELECT body FROM events ORDER BY id")
        deadLetters = Self.strings(db, "SELECT body FROM dead_letters ORDER BY id")
        integrity = Self.strings(db, "PRAGMA integrity_check").first ?? "none"
        counters = [:]
        var statement: OpaquePointer?
        if sqlite3_prepare_v2(
            db,
            "SELECT queued_events, queued_bytes, dropped_events, delivered_events FROM counters",
            -1,
            &statement,
            nil
        )
            == SQLITE_OK, sqlite3_step(statement) == SQLITE_ROW
        {
            counters["queued_events"] = sqlite3_column_int64(statement, 0)
            counters["queued_bytes"] = sqlite3_column_int64(statement, 1)
            counters["dropped_events"] = sqlite3_column_int64(statement, 2)
            counters["delivered_events"] = sqlite3_column_int64(statement, 3)
        }
        sqlite3_finalize(statement)
    }

    private static func strings(_ db: OpaquePointer, _ sql: String) -> [String] {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK else { return [] }
        defer { sqlite3_finalize(statement) }
        var out: [String] = []
        while sqlite3_step(statement) == SQLITE_ROW {
            if let text = sqlite3_column_text(statement, 0) { out.append(String(cString: text)) }
        }
        return out
    }

    /// Each event parsed, for field checks.
    public var parsedEvents: [[String: Any]] {
        events.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
    }
}
