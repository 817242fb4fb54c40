import CSQLite

#if canImport(Glibc)
import Glibc
#endif

/// Opens the queue database for each kind of user of it.
///
/// - The daemon (`open(create: true)`) owns the file: it creates it, sets WAL (readers never block
///   the writer), the durability the config asks for, and runs the migrations.
/// - `modactl` commands that change the queue (`openForOperator`) change nothing else: no migration
///   (a newer modactl must not migrate a queue under a running older daemon), no journal mode.
/// - `modactl` commands that only look (`openReadOnly`) open it read-only and create no file.
enum QueueDatabase {
    static func open(
        path: String,
        durability: AgentConfig.Durability,
        create: Bool
    ) throws(QueueError)
        -> SQLiteConnection
    {
        if create {
            try QueueFiles.prepareFolder(queuePath: path)
        } else {
            try requireFile(path)
        }
        return try configured(SQLiteConnection(path: path), path: path) { db throws(QueueError) in
            // Appends and reads of the queue's head touch few pages; SQLite's default 2 MB cache per
            // connection would only be resident memory.
            try db.execute("PRAGMA cache_size = -512")
            // 16 KiB pages for a new queue (an existing one keeps its own: SQLite changes it only by a VACUUM
            // outside WAL mode). Each WAL frame is a page, written by its own pwrite with its header: with 4 KiB
            // pages and ~300-byte events the writer made a syscall pair every dozen events. Measured side by
            // side (docs/performance.md): CPU per event end to end 5.5 → 4.7 µs, 263.6k → 302.8k events/s, ack
            // p99 at 10k/s 1.65 → 1.57 ms; 64 KiB pages saved no more CPU and raised ack p99 to 2.35 ms, as
            // each small commit rewrites whole pages.
            try db.execute("PRAGMA page_size = 16384")
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
        }
    }

    /// For `dead-letters replay` and `purge`: read-write, fsynced, beside a running daemon, with the
    /// schema as the daemon left it.
    static func openForOperator(path: String) throws(QueueError) -> SQLiteConnection {
        try requireFile(path)
        return try configured(SQLiteConnection(path: path), path: path) { db throws(QueueError) in
            try db.execute("PRAGMA synchronous = FULL")
            try QueueSchema.requireReadable(db)
        }
    }

    /// For `status`, `dead-letters list` and `show`: nothing is written and no file is created.
    /// With a daemon running (or after a crash) the WAL exists and is read through SQLite's shared
    /// memory as usual; without one the database file is complete and is read as immutable, since
    /// even a read-only SQLite connection would otherwise create the WAL and shared-memory files.
    static func openReadOnly(path: String) throws(QueueError) -> SQLiteConnection {
        try requireFile(path)
        let walExists = access(path + "-wal", F_OK) == 0
        let db = try SQLiteConnection(uri: uri(path, parameter: walExists ? "mode=ro" : "immutable=1"))
        return try configured(db, path: path) { db throws(QueueError) in try QueueSchema.requireReadable(db) }
    }

    /// Every connection waits for a busy writer instead of failing (modactl beside a running
    /// daemon), then gets its own `setup`; a damaged file comes back as `.damaged`.
    private static func configured(
        _ db: SQLiteConnection,
        path: String,
        _ setup: (SQLiteConnection) throws(QueueError) -> Void
    ) throws(QueueError) -> SQLiteConnection {
        do throws(QueueError) {
            try db.execute("PRAGMA busy_timeout = 10000")
            try setup(db)
        } catch {
            throw classify(error, path: path)
        }
        return db
    }

    private static func requireFile(_ path: String) throws(QueueError) {
        if access(path, F_OK) != 0 {
            throw .cannotOpen(path: path, reason: "no such file (has the daemon ever run with this queue.path?)")
        }
    }

    /// A `file:` URI for `path`, with the characters URIs reserve escaped.
    private static func uri(_ path: String, parameter: String) -> String {
        var escaped = ""
        for byte in path.utf8 {
            switch byte {
            case UInt8(ascii: "%"), UInt8(ascii: "?"), UInt8(ascii: "#"), 0..<0x20, 0x7F...:
                escaped += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            default:
                escaped.unicodeScalars.append(Unicode.Scalar(byte))
            }
        }
        return "file:\(escaped)?\(parameter)"
    }

    private static func classify(_ error: QueueError, path: String) -> QueueError {
        if case .sqlite(let code, let message, _) = error,
            code & 0xFF == SQLITE_NOTADB || code & 0xFF == SQLITE_CORRUPT
        {
            return .damaged(path: path, reason: message)
        }
        return error
    }
}
