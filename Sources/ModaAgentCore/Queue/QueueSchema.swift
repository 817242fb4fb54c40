/// Named, ordered migrations of the queue database, tracked in `PRAGMA user_version`.
/// Each runs in its own transaction; a database newer than this build is refused, not touched.
enum QueueSchema {
    /// The dead letters' columns after `id`, as v1 created them and v2 recreated them. Frozen like
    /// the migrations that use it: a change is a new migration, never an edit here.
    private static let deadLetterColumns = """
        event_id INTEGER NOT NULL,
        received_at REAL NOT NULL,
        dead_at REAL NOT NULL,
        status INTEGER NOT NULL,
        error TEXT NOT NULL,
        request_id TEXT,
        conversation_id TEXT,
        preview TEXT,
        body TEXT NOT NULL
        """

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
                \(deadLetterColumns)
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
        ),
        (
            // Delivered batches are deleted by id range: an id used again (the table emptied by dropOldest
            // while a batch was in flight) would let that batch's late 2xx delete an event never sent.
            // AUTOINCREMENT never hands out an id twice; the sequence starts above every id this file
            // has used, dead letters' original ids included. Dead letters get it too: an operator's
            // `replay ID` from an old listing must never reach another event.
            "v2: queue and dead-letter ids never repeat (AUTOINCREMENT)",
            """
            CREATE TABLE events_v2 (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                received_at REAL NOT NULL,
                body TEXT NOT NULL
            );
            INSERT INTO events_v2 (id, received_at, body) SELECT id, received_at, body FROM events ORDER BY id;
            DROP TABLE events;
            ALTER TABLE events_v2 RENAME TO events;
            CREATE TABLE dead_letters_v2 (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                \(deadLetterColumns)
            );
            INSERT INTO dead_letters_v2 SELECT * FROM dead_letters ORDER BY id;
            DROP TABLE dead_letters;
            ALTER TABLE dead_letters_v2 RENAME TO dead_letters;
            DELETE FROM sqlite_sequence WHERE name = 'events';
            INSERT INTO sqlite_sequence (name, seq) VALUES ('events', max(
                coalesce((SELECT max(id) FROM events), 0),
                coalesce((SELECT max(event_id) FROM dead_letters), 0)
            ));
            """
        ),
        (
            // `modactl status` reads the adaptive concurrency from the database, like the rest of the
            // delivery state: it works whether or not the daemon runs.
            "v3: delivery state shows the requests allowed in flight",
            """
            ALTER TABLE delivery_state ADD COLUMN concurrency INTEGER NOT NULL DEFAULT 1;
            """
        ),
        (
            // The daemon's live memory numbers, a snapshot the heartbeat keeps current, so `modactl
            // status` (another process) can show them; `pid` tells whose they are.
            "v4: memory budget snapshot",
            """
            CREATE TABLE memory_state (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                pid INTEGER NOT NULL,
                buffered_bytes INTEGER NOT NULL,
                max_buffered_bytes INTEGER NOT NULL,
                read_pauses INTEGER NOT NULL
            );
            """
        ),
        (
            // Delivery sorts the head into lanes and counts bytes without reading a body or its JSON.
            // Rows written before (and by `dead-letters replay`, which copies bodies) keep NULLs;
            // readers then fall back to the body (`QueueStore.scan`, `coalesce(size, ...)`).
            // `delivered`: ids delivered but still in `events`, which is cut only from its head
            // (`QueueWrite.markDelivered`); the writer deletes them at start-up.
            "v5: events carry their conversation key and stored size; delivered ids above the head",
            """
            ALTER TABLE events ADD COLUMN conversation INTEGER;
            ALTER TABLE events ADD COLUMN size INTEGER;
            CREATE TABLE delivered (
                first INTEGER PRIMARY KEY,
                last INTEGER NOT NULL
            );
            """
        ),
        (
            // OTLP trace exports (docs/protocol.md), stored as received in a queue of their own, with their
            // own counters and delivery state: the two queues are delivered independently. Dead
            // letters stay one table, so `modactl dead-letters` ids are one sequence for both kinds.
            // Independent of v5 (events): it touches no table v5 changes.
            "v6: trace exports queue",
            """
            CREATE TABLE traces (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                received_at REAL NOT NULL,
                content_type TEXT NOT NULL,
                body BLOB NOT NULL
            );
            CREATE TABLE trace_counters (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                queued_exports INTEGER NOT NULL,
                queued_bytes INTEGER NOT NULL,
                delivered_exports INTEGER NOT NULL
            );
            INSERT INTO trace_counters VALUES (1, 0, 0, 0);
            CREATE TABLE trace_delivery_state (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                state TEXT NOT NULL,
                last_success_at REAL,
                last_error_status INTEGER,
                last_error_message TEXT,
                last_error_at REAL,
                attempts INTEGER NOT NULL,
                next_attempt_at REAL,
                concurrency INTEGER NOT NULL DEFAULT 1
            );
            INSERT INTO trace_delivery_state (id, state, attempts) VALUES (1, 'idle', 0);
            ALTER TABLE dead_letters ADD COLUMN kind TEXT NOT NULL DEFAULT 'events';
            ALTER TABLE dead_letters ADD COLUMN content_type TEXT;
            """
        ),
        (
            // The delivery log of `modactl trace` (docs/tracing.md): one row per delivered or refused
            // request, written in the transaction that removes its events, and its ids per conversation
            // in pieces spanning at most `DeliveryRecord.maxSpan` ids (`runs` NULL: every id from first
            // to last). Indexed for the two questions asked: by id (`first`) and by conversation.
            // `bytes`: what the request's rows take, for `trace.maxBytes`.
            "v7: delivery log",
            """
            CREATE TABLE delivery_log (
                id INTEGER PRIMARY KEY,
                at REAL NOT NULL,
                status INTEGER NOT NULL,
                request_id TEXT,
                latency REAL,
                message TEXT,
                dead_letter_id INTEGER,
                bytes INTEGER NOT NULL
            );
            CREATE TABLE delivery_log_ids (
                entry INTEGER NOT NULL,
                first INTEGER NOT NULL,
                last INTEGER NOT NULL,
                conversation INTEGER NOT NULL,
                runs BLOB,
                PRIMARY KEY (entry, first)
            ) WITHOUT ROWID;
            CREATE INDEX delivery_log_ids_first ON delivery_log_ids (first);
            CREATE INDEX delivery_log_ids_conversation ON delivery_log_ids (conversation);
            """
        ),
        (
            // Ids still never repeat, but the high-water mark moves from `sqlite_sequence` into the `counters`
            // row every commit already rewrites: AUTOINCREMENT rewrote `sqlite_sequence`'s page as well, one
            // more WAL frame (16 KiB) per commit, a third of what a single line's commit wrote. The writer
            // gives ids from `max(last_event_id, max(id))` (`QueueCounters.totals`), and `dead-letters
            // replay` does the same in its transaction.
            "v8: event ids from the counters row",
            """
            ALTER TABLE counters ADD COLUMN last_event_id INTEGER NOT NULL DEFAULT 0;
            UPDATE counters SET last_event_id = max(
                coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0),
                coalesce((SELECT max(id) FROM events), 0),
                coalesce((SELECT max(event_id) FROM dead_letters), 0)
            ) WHERE id = 1;
            CREATE TABLE events_v8 (
                id INTEGER PRIMARY KEY,
                received_at REAL NOT NULL,
                body TEXT NOT NULL,
                conversation INTEGER,
                size INTEGER
            );
            INSERT INTO events_v8 (id, received_at, body, conversation, size)
                SELECT id, received_at, body, conversation, size FROM events ORDER BY id;
            DROP TABLE events;
            ALTER TABLE events_v8 RENAME TO events;
            DELETE FROM sqlite_sequence WHERE name = 'events';
            """
        ),
    ]

    static var version: Int { migrations.count }

    /// Refuses a database newer than this build; an older one is read as it is (every version's
    /// tables have the columns the operator's commands use).
    static func requireReadable(_ db: SQLiteConnection) throws(QueueError) {
        let current = Int(try db.scalarInt("PRAGMA user_version") ?? 0)
        guard current <= version else {
            throw .newerSchema(path: db.path, found: current, supported: version)
        }
    }

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
