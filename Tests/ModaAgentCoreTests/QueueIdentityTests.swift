import CSQLite
import Foundation
import ModaAgentTestSupport
import Testing

@testable import ModaAgentCore

/// Delivered batches leave the queue by id range, so an id must never name two events in the
/// life of a queue file.
@Suite("queue ids")
struct QueueIdentityTests {
    @Test("dropOldest empties the queue under a batch in flight: that batch's late 2xx removes only its own events")
    func lateSuccessAfterDropOldestKeepsTheNewEvent() async throws {
        let upstream = try StallingUpstream(mode: .held)
        defer { upstream.stop() }
        let first = EventLines.standard(1)
        // Big enough that it fits only once `first` is dropped.
        let second =
            "{\"conversation_id\":\"c\",\"role\":\"user\",\"message\":\"" + String(repeating: "x", count: 450)
            + "\",\"seq\":2}"
        let overrides: [String: Any] = [
            "endpoint": upstream.endpoint,
            "queue": ["maxBytes": 600, "whenFull": "dropOldest"],
            "delivery": ["maxInFlight": 1, "timeoutSeconds": 30],
        ]
        try await AgentProcess.with(overrides: overrides) { agent in
            #expect(try UnixSocketClient.exchange(path: agent.socketPath, first + "\n") == [#"{"ok":true,"accepted":1}"#])
            // The first event is in flight, held by the upstream.
            #expect(await waitFor(timeout: .seconds(10)) { upstream.bodies.count == 1 })
            #expect(try UnixSocketClient.exchange(path: agent.socketPath, second + "\n") == [#"{"ok":true,"accepted":1}"#])
            let snapshot = try QueueSnapshot(path: agent.queuePath)
            #expect(snapshot.events.count == 1 && snapshot.counters["dropped_events"] == 1, "the first was dropped")

            upstream.release()
            let delivered = await waitFor(timeout: .seconds(10)) {
                upstream.bodies.contains { $0.contains("\"seq\":2") }
            }
            #expect(delivered, "the event acknowledged after the drop was never sent:\n\(agent.log())")
            let empty = await waitFor(timeout: .seconds(10)) {
                (try? QueueSnapshot(path: agent.queuePath).counters["queued_events"]) == 0
            }
            #expect(empty)
        }
    }

    @Test("a v1 queue migrates in place: rows kept, and new ids start above every id it ever used")
    func migrationKeepsRowsAndNeverReusesIds() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("queue.db")
        do {
            let old = try SQLiteConnection(path: path)
            try old.execute(QueueSchema.migrations[0].sql)
            try old.execute("PRAGMA user_version = 1")
            try old.execute(
                "INSERT INTO events (id, received_at, body) VALUES (7, 1, '{\"a\":1}'), (8, 2, '{\"b\":2}')"
            )
            try old.execute(
                "INSERT INTO dead_letters (id, event_id, received_at, dead_at, status, error, body) "
                    + "VALUES (3, 12, 1, 1, 400, 'bad', '{}')"
            )
            old.close()
        }
        let db = try QueueDatabase.open(path: path, durability: .full, create: false)
        #expect(try db.scalarInt("PRAGMA user_version") == Int64(QueueSchema.version))
        #expect(try db.scalarInt("SELECT count(*) FROM events") == 2)
        #expect(try db.scalarInt("SELECT id FROM dead_letters") == 3)
        try db.execute("DELETE FROM events")
        // The writer gives the next id above the mark (`GroupCommit`), even with the table empty.
        #expect(try QueueCounters(db).totals().lastEventID == 12, "the dead letter's original id 12 is the mark")
        try db.execute("DELETE FROM dead_letters")
        try db.execute(
            "INSERT INTO dead_letters (event_id, received_at, dead_at, status, error, body) VALUES (13, 1, 1, 400, 'e', '{}')"
        )
        #expect(try db.scalarInt("SELECT id FROM dead_letters") == 4)
        db.close()
    }

    @Test("rows from before v5 have no key or size column: delivery reads them from the body, as for new rows")
    func rowsBeforeV5() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("queue.db")
        let oldBody = #"{"conversation_id":"c\u0031","role":"user","message":"old"}"#
        let newBody = #"{"conversation_id":"c1","role":"user","message":"new"}"#
        do {
            let old = try SQLiteConnection(path: path)
            for migration in QueueSchema.migrations.prefix(4) { try old.execute(migration.sql) }
            try old.execute("PRAGMA user_version = 4")
            try old.execute("INSERT INTO events (received_at, body) VALUES (1, '\(oldBody)')")
            try old.execute(
                "UPDATE counters SET queued_events = 1, queued_bytes = \(oldBody.utf8.count) WHERE id = 1"
            )
            old.close()
        }
        var config = AgentConfig.Queue()
        config.path = path
        let writer = try QueueWriter(db: QueueDatabase.open(path: path, durability: .full, create: false), config: config)
        let outcomes = await withCheckedContinuation { continuation in
            writer.submit(lines: [[PreparedEvent(body: Array(newBody.utf8))]], receivedAt: 2) {
                continuation.resume(returning: $0)
            }
        }
        #expect(outcomes == [.accepted(1, firstID: 2)])
        let store = try QueueStore(path: path, durability: .full, create: false)
        let scanned = try store.scan(after: 0, limit: 10)
        #expect(scanned.map(\.id) == [1, 2])
        #expect(scanned.map(\.bytes) == [oldBody.utf8.count, newBody.utf8.count])
        #expect(scanned[0].conversation == scanned[1].conversation, "the escaped and plain c1 are one conversation")
        #expect(scanned[0].conversation == ConversationKey.of(event: Array(newBody.utf8)))
        let removed = await withCheckedContinuation { continuation in
            writer.perform(.markDelivered(ids: [1, 2], through: 2, status: DeliveryStatus())) { continuation.resume(returning: $0) }
        }
        #expect((try? removed.get()) != nil)
        #expect(try store.counters().queuedBytes == 0, "both sizes counted off, the old row's from its body")
        #expect(try store.counters().deliveredEvents == 2)
    }
}
