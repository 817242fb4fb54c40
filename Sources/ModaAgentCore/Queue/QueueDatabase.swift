import CSQLite
import Foundation

/// Opens the queue database with the settings every user of it needs: WAL (readers never block
/// the writer), a busy timeout (modactl beside a running daemon waits instead of failing), and
/// the durability the config asks for.
enum QueueDatabase {
    static func open(
        path: String,
        durability: AgentConfig.Durability,
        create: Bool
    ) throws(QueueError)
        -> SQLiteConnection
    {
        let directory = (path as NSString).deletingLastPathComponent
        if create, !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw .cannotCreateDirectory(path: directory, reason: String(describing: error.localizedDescription))
            }
        }
        if !create, !FileManager.default.fileExists(atPath: path) {
            throw .cannotOpen(path: path, reason: "no such file (has the daemon ever run with this queue.path?)")
        }
        let db = try SQLiteConnection(path: path)
        do throws(QueueError) {
            try db.execute("PRAGMA busy_timeout = 10000")
            // Appends and reads of the queue's head touch few pages; SQLite's default 2 MB cache per
            // connection would only be resident memory.
            try db.execute("PRAGMA cache_size = -512")
            let mode = try db.scalarText("PRAGMA journal_mode = WAL")
            guard mode?.lowercased() == "wal" else {
                throw QueueError.cannotOpen(
                    path: path,
                    reason: "WAL mode could not be enabled (got \(mode ?? "nothing"))"
                )
            }
            // Set after WAL: FULL makes every commit fsync the WAL, which is the acknowledgement promise.
            try db.execute("PRAGMA synchronous = \(durability == .full ? "FULL" : "NORMAL")")
            try QueueSchema.migrate(db)
        } catch {
            if case .sqlite(let code, let message, _) = error,
                code & 0xFF == SQLITE_NOTADB || code & 0xFF == SQLITE_CORRUPT
            {
                throw .damaged(path: path, reason: message)
            }
            throw error
        }
        return db
    }
}
