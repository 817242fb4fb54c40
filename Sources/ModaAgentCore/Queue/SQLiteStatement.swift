import CSQLite

/// A prepared statement, reused across calls: reset and rebind rather than prepare again.
final class SQLiteStatement {
    private unowned let connection: SQLiteConnection
    private let statement: OpaquePointer

    init(connection: SQLiteConnection, statement: OpaquePointer) {
        self.connection = connection
        self.statement = statement
    }

    deinit {
        sqlite3_finalize(statement)
    }

    func reset() {
        sqlite3_reset(statement)
        sqlite3_clear_bindings(statement)
    }

    func bind(_ index: Int32, _ value: Int64) {
        sqlite3_bind_int64(statement, index, value)
    }

    func bind(_ index: Int32, _ value: Double) {
        sqlite3_bind_double(statement, index, value)
    }

    func bind(_ index: Int32, _ value: String?) {
        guard let value else {
            sqlite3_bind_null(statement, index)
            return
        }
        sqlite3_bind_text(statement, index, value, -1, csqlite_transient())
    }

    /// Binds UTF-8 bytes as TEXT without an intermediate String. `copy: false` binds them in place
    /// (no malloc and copy inside SQLite): the bytes must then stay valid until the statement has
    /// run and been reset.
    func bindText(_ index: Int32, _ bytes: UnsafeRawBufferPointer, copy: Bool = true) {
        guard let base = bytes.baseAddress else {
            sqlite3_bind_text(statement, index, "", 0, csqlite_transient())
            return
        }
        sqlite3_bind_text(
            statement,
            index,
            base.assumingMemoryBound(to: CChar.self),
            Int32(bytes.count),
            copy ? csqlite_transient() : nil
        )
    }

    /// Binds bytes as a BLOB: trace exports are stored as received, protobuf included.
    func bindBlob(_ index: Int32, _ bytes: UnsafeRawBufferPointer) {
        // A zero-length blob, not NULL: the column is NOT NULL and an empty export is still one.
        guard let base = bytes.baseAddress else {
            sqlite3_bind_zeroblob(statement, index, 0)
            return
        }
        sqlite3_bind_blob(statement, index, base, Int32(bytes.count), csqlite_transient())
    }

    /// Steps once: true when a row is ready, false when done.
    @discardableResult
    func step() throws(QueueError) -> Bool {
        let rc = sqlite3_step(statement)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let failure = connection.error(rc, "running \(String(cString: sqlite3_sql(statement)).prefix(60))")
            sqlite3_reset(statement)
            throw failure
        }
    }

    /// Steps to completion, then resets so the statement can be reused at once.
    func run() throws(QueueError) {
        defer { sqlite3_reset(statement) }
        while try step() {}
    }

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(statement, column) == SQLITE_NULL }
    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }
    func double(_ column: Int32) -> Double { sqlite3_column_double(statement, column) }

    func text(_ column: Int32) -> String? {
        guard let pointer = sqlite3_column_text(statement, column) else { return nil }
        let count = Int(sqlite3_column_bytes(statement, column))
        return String(decoding: UnsafeRawBufferPointer(start: pointer, count: count), as: UTF8.self)
    }

    /// The column's bytes, valid only inside `body` (until the next step or reset): no copy.
    func withBytes<T>(_ column: Int32, _ body: (UnsafeRawBufferPointer) -> T) -> T {
        guard let pointer = sqlite3_column_blob(statement, column) else { return body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        return body(UnsafeRawBufferPointer(start: pointer, count: Int(sqlite3_column_bytes(statement, column))))
    }

    func bytes(_ column: Int32) -> [UInt8] {
        guard let pointer = sqlite3_column_blob(statement, column) else { return [] }
        let count = Int(sqlite3_column_bytes(statement, column))
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }
}
