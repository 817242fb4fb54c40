/// The row that tells `modactl status` which daemon runs (pid, version, start time).
enum DaemonRecord {
    static func write(_ db: SQLiteConnection, pid: Int32, version: String, startedAt: Double) throws(QueueError) {
        let statement = try db.prepare(
            "INSERT OR REPLACE INTO daemon (id, pid, version, started_at) VALUES (1, ?, ?, ?)"
        )
        statement.bind(1, Int64(pid))
        statement.bind(2, version)
        statement.bind(3, startedAt)
        try statement.run()
    }
}
