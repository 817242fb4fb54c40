import CSQLite
import Foundation

/// Writes events straight into a queue database the daemon created, in one transaction: a
/// backlog of a million events in seconds, without going through the socket.
public enum QueueFiller {
    public struct FillError: Error, CustomStringConvertible {
        public var message: String
        public var description: String { "filling the queue failed: \(message)" }
    }

    public static func fill(path: String, count: Int, body: (Int) -> String) throws {
        var db: OpaquePointer?
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, nil) == SQLITE_OK, let db else {
            throw POSIXError(.ENOENT)
        }
        defer { sqlite3_close_v2(db) }
        sqlite3_busy_timeout(db, 10_000)
        guard sqlite3_exec(db, "BEGIN IMMEDIATE", nil, nil, nil) == SQLITE_OK else {
            throw FillError(message: String(cString: sqlite3_errmsg(db)))
        }
        var statement: OpaquePointer?
        sqlite3_prepare_v2(db, "INSERT INTO events (received_at, body) VALUES (?, ?)", -1, &statement, nil)
        let now = Date().timeIntervalSince1970
        var bytes = 0
        for index in 0..<count {
            let text = body(index)
            bytes += text.utf8.count
            sqlite3_bind_double(statement, 1, now)
            _ = text.withCString {
                sqlite3_bind_text(statement, 2, $0, -1, unsafeBitCast(-1, to: sqlite3_destructor_type.self))
            }
            guard sqlite3_step(statement) == SQLITE_DONE else {
                let message = String(cString: sqlite3_errmsg(db))
                sqlite3_finalize(statement)
                sqlite3_exec(db, "ROLLBACK", nil, nil, nil)
                throw FillError(message: "event \(index): \(message)")
            }
            sqlite3_reset(statement)
        }
        sqlite3_finalize(statement)
        sqlite3_exec(
            db,
            "UPDATE counters SET queued_events = queued_events + \(count), queued_bytes = queued_bytes + \(bytes)",
            nil,
            nil,
            nil
        )
        guard sqlite3_exec(db, "COMMIT", nil, nil, nil) == SQLITE_OK else { throw POSIXError(.EIO) }
    }
}
