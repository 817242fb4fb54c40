/// Named, ordered migrations of the queue database, tracked in `PRAGMA user_version`.
/// Each runs in its own transaction; a database newer than this build is refused, not touched.
enum QueueSchema {
    static let migrations: [(name: String, sql: String)] = [
        (
            "v1: events, dead letters, counters, delivery state",
            """
            CREATE TABLE events (
                id INTEGER PRIMARY KEY,
                received_at REAL NOT NULL,
                body TEXT NOT NULL
            );
            CREATE TABLE dead_letters (
                id INTEGER PRIMARY KEY,
                event_id INTEGER NOT NULL,
                received_at REAL NOT NULL,
                dead_at REAL NOT NULL,
                status INTEGER NOT NULL,
                error TEXT NOT NULL,
                request_id TEXT,
                conversation_id TEXT,
                preview TEXT,
                body TEXT NOT NULL
            );
            CREATE TABLE counters (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                queued_events INTEGER NOT NULL,
                queued_bytes INTEGER NOT NULL,
                dropped_events INTEGER NOT NULL,
                delivered_events INTEGER NOT NULL
            );
            INSERT INTO counters VALUES (1, 0, 0, 0, 0);
            CREATE TABLE delivery_state (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                state TEXT NOT NULL,
                last_success_at REAL,
                last_error_status INTEGER,
                last_error_message TEXT,
                last_error_at REAL,
                attempts INTEGER NOT NULL,
                next_attempt_at REAL
            );
            INSERT INTO delivery_state (id, state, attempts) VALUES (1, 'idle', 0);
            CREATE TABLE daemon (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                pid INTEGER NOT NULL,
                version TEXT NOT NULL,
                started_at REAL NOT NULL
            );
            """
        )
    ]

    static var version: Int { migrations.count }

    static func migrate(_ db: SQLiteConnection) throws(QueueError) {
        let current = Int(try db.scalarInt("PRAGMA user_version") ?? 0)
        guard current <= version else {
            throw .newerSchema(path: db.path, found: current, supported: version)
        }
        for index in current..<version {
            try db.transaction { () throws(QueueError) in
                try db.execute(migrations[index].sql)
                try db.execute("PRAGMA user_version = \(index + 1)")
            }
        }
    }
}
