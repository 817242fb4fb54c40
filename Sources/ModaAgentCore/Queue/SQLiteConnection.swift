import CSQLite

/// One SQLite connection. Not thread-safe by design: each owner (the queue writer, delivery,
/// a modactl command) has its own and uses it from one thread or serial queue at a time.
final class SQLiteConnection {
    let path: String
    private(set) var handle: OpaquePointer?

    convenience init(path: String, readOnly: Bool = false) throws(QueueError) {
        let flags =
            (readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) | SQLITE_OPEN_NOMUTEX
        try self.init(name: path, path: path, flags: flags)
    }

    /// A read-only connection through a `file:` URI (`mode=ro`, `immutable=1`).
    convenience init(uri: String) throws(QueueError) {
        let path = String(uri.dropFirst("file:".count).prefix { $0 != "?" })
        try self.init(name: uri, path: path, flags: SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX)
    }

    private init(name: String, path: String, flags: Int32) throws(QueueError) {
        _ = Self.configured
        self.path = path
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(name, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_close_v2(db)
            throw .cannotOpen(path: path, reason: message)
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
    }

    deinit {
        close()
    }

    /// SQLite's process-wide settings, applied once before the first connection opens. Memory
    /// statistics off: with them on, every allocation SQLite makes takes a global mutex to count
    /// it, which all of the daemon's connections (writer, delivery, checkpointer) contend for;
    /// nothing reads the statistics. Measured end to end: 7.5 → 6.7 µs CPU per event
    /// (docs/performance.md).
    ///
    /// No bulk page-cache allocation per connection: SQLite otherwise allocates room for 20 pages when a
    /// connection first reads one, which with 16 KiB pages is 330 KB on each of the daemon's connections,
    /// most of it touched by an idle daemon's few reads; pages are then allocated as they are used.
    private static let configured: Void = {
        _ = csqlite_config_memstatus(0)
        _ = csqlite_config_no_pagecache_bulk()
    }()

    func close() {
        guard let handle else { return }
        sqlite3_close_v2(handle)
        self.handle = nil
    }

    func error(_ code: Int32, _ context: String) -> QueueError {
        let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(code))
        return .sqlite(code: code, message: message, context: context)
    }

    func execute(_ sql: String) throws(QueueError) {
        let rc = sqlite3_exec(handle, sql, nil, nil, nil)
        guard rc == SQLITE_OK else { throw error(rc, "running \(sql.prefix(60))") }
    }

    func prepare(_ sql: String) throws(QueueError) -> SQLiteStatement {
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard rc == SQLITE_OK, let statement else { throw error(rc, "preparing \(sql.prefix(60))") }
        return SQLiteStatement(connection: self, statement: statement)
    }

    /// Runs a query expected to give one integer (a count, a pragma).
    func scalarInt(_ sql: String) throws(QueueError) -> Int64? {
        let statement = try prepare(sql)
        guard try statement.step() else { return nil }
        return statement.isNull(0) ? nil : statement.int64(0)
    }

    func scalarText(_ sql: String) throws(QueueError) -> String? {
        let statement = try prepare(sql)
        guard try statement.step() else { return nil }
        return statement.text(0)
    }

    var changes: Int { Int(sqlite3_changes(handle)) }
    var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Runs `body` inside BEGIN IMMEDIATE … COMMIT; rolls back on any error. IMMEDIATE takes the
    /// write lock up front, so two writers wait on the busy timeout instead of failing mid-way.
    func transaction<T>(_ body: () throws(QueueError) -> T) throws(QueueError) -> T {
        // Already inside a transaction (work riding on the writer's group commit): a savepoint, so
        // this part can fail and roll back alone.
        let nested = sqlite3_get_autocommit(handle) == 0
        try execute(nested ? "SAVEPOINT nested" : "BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute(nested ? "RELEASE nested" : "COMMIT")
            return result
        } catch {
            if nested {
                sqlite3_exec(handle, "ROLLBACK TO nested; RELEASE nested", nil, nil, nil)
            } else if sqlite3_get_autocommit(handle) == 0 {
                sqlite3_exec(handle, "ROLLBACK", nil, nil, nil)
            }
            throw error
        }
    }
}
