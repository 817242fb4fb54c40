import Foundation
import ModaAgentTestSupport
import NIOConcurrencyHelpers
import Testing

@testable import ModaAgentCore

@Suite("queue writer (group commit)")
struct QueueWriterTests {
    private func event(_ text: String) -> PreparedEvent { PreparedEvent(body: Array(text.utf8)) }

    private func makeWriter(
        _ folder: TemporaryDirectory,
        maxBytes: Int = 1 << 30,
        whenFull: AgentConfig.WhenFull = .reject
    ) throws -> (QueueWriter, String) {
        try QueueWriterFixtures.writer(folder, maxBytes: maxBytes, whenFull: whenFull)
    }

    private func submit(_ writer: QueueWriter, _ lines: [[PreparedEvent]]) async -> [QueueWriter.Outcome] {
        await QueueWriterFixtures.submit(writer, lines)
    }

    @Test("ids never repeat: the writer and a replay both give ids above the mark, the table emptied between")
    func idsAboveTheMark() async throws {
        let folder = TemporaryDirectory()
        defer { folder.remove() }
        let (writer, path) = try makeWriter(folder)
        let first = await submit(writer, [[event("{\"a\":1}"), event("{\"a\":2}")], [event("{\"a\":3}")]])
        #expect(first == [.accepted(2, firstID: 1), .accepted(1, firstID: 3)])
        let side = try QueueDatabase.open(path: path, durability: .full, create: false)
        // As the head's cut leaves it: every row gone.
        try side.execute("DELETE FROM events")
        try side.execute(
            "INSERT INTO dead_letters (event_id, received_at, dead_at, status, error, body) "
                + "VALUES (2, 1, 1, 400, 'bad', '{\"a\":2}')"
        )
        side.close()
        #expect(await submit(writer, [[event("{\"a\":4}")]]) == [.accepted(1, firstID: 4)])
        let admin = try DeadLetterAdmin(queuePath: path, access: .readWrite)
        #expect(try admin.replay(ids: nil) == 1)
        admin.close()
        let reader = try QueueDatabase.open(path: path, durability: .full, create: false)
        #expect(try reader.scalarInt("SELECT max(id) FROM events") == 5, "the replayed event above the writer's 4")
        #expect(try reader.scalarInt("SELECT last_event_id FROM counters") == 5)
        reader.close()
        #expect(await submit(writer, [[event("{\"a\":5}")]]) == [.accepted(1, firstID: 6)])
        writer.finish()
    }

    @Test("the database runs in WAL mode with synchronous=FULL for durability full")
    func pragmas() throws {
        let folder = TemporaryDirectory()
        defer { folder.remove() }
        let db = try QueueDatabase.open(path: folder.file("queue.db"), durability: .full, create: true)
        #expect(try db.scalarText("PRAGMA journal_mode") == "wal")
        #expect(try db.scalarInt("PRAGMA synchronous") == 2)
        let normal = try QueueDatabase.open(path: folder.file("queue.db"), durability: .normal, create: true)
        #expect(try normal.scalarInt("PRAGMA synchronous") == 1)
        #expect(try db.scalarInt("PRAGMA user_version") == Int64(QueueSchema.version))
        #expect(try db.scalarInt("PRAGMA page_size") == 16384, "a new queue has 16 KiB pages")
    }

    @Test("a queue made with 4 KiB pages (before 16 KiB) opens, migrates and keeps its pages")
    func olderPageSizeKept() throws {
        let folder = TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("queue.db")
        let old = try SQLiteConnection(path: path)
        try old.execute("PRAGMA page_size = 4096")
        try old.execute("PRAGMA journal_mode = WAL")
        try old.execute("CREATE TABLE placeholder (x)")
        old.close()
        let db = try QueueDatabase.open(path: path, durability: .full, create: true)
        defer { db.close() }
        #expect(try db.scalarInt("PRAGMA page_size") == 4096)
        #expect(try db.scalarInt("PRAGMA user_version") == Int64(QueueSchema.version))
    }

    @Test("lines are committed with one outcome each, in order, and counted")
    func commitsAndCounts() async throws {
        let folder = TemporaryDirectory()
        defer { folder.remove() }
        let (writer, path) = try makeWriter(folder)
        let outcomes = await submit(writer, [[event("{\"a\":1}")], [event("{\"b\":2}"), event("{\"c\":3}")]])
        #expect(outcomes == [.accepted(1, firstID: 1), .accepted(2, firstID: 2)], "a line's events have consecutive ids")
        let snapshot = try QueueSnapshot(path: path)
        #expect(snapshot.events == ["{\"a\":1}", "{\"b\":2}", "{\"c\":3}"])
        #expect(snapshot.counters["queued_events"] == 3)
        #expect(snapshot.counters["queued_bytes"] == 21)
    }

    @Test("each commit that adds events is announced with its count and newest id")
    func commitsAreAnnounced() async throws {
        let folder = TemporaryDirectory()
        defer { folder.remove() }
        let (writer, _) = try makeWriter(folder)
        _ = await submit(writer, [[event("{\"a\":1}")], [event("{\"b\":2}"), event("{\"c\":3}")]])
        _ = await submit(writer, [])
        _ = await submit(writer, [[event("{\"d\":4}")]])
        writer.finish()
        var announced: [QueueWriter.Commit] = []
        for await commit in writer.commits { announced.append(commit) }
        #expect(announced.map(\.events) == [3, 1])
        #expect(announced.map(\.lastID) == [3, 4])
        #expect(announced.flatMap(\.added) == [
            ScannedEvent(id: 1, bytes: 7, conversation: ConversationKey.none),
            ScannedEvent(id: 2, bytes: 7, conversation: ConversationKey.none),
            ScannedEvent(id: 3, bytes: 7, conversation: ConversationKey.none),
            ScannedEvent(id: 4, bytes: 7, conversation: ConversationKey.none),
        ])
    }

    @Test("the WAL is copied back beside the writer, not in its commits, and starts over once copied")
    func checkpointsInTheBackground() async throws {
        let folder = TemporaryDirectory()
        defer { folder.remove() }
        let (writer, path) = try makeWriter(folder)
        let line = [event("{\"m\":\"" + String(repeating: "x", count: 4000) + "\"}")]
        // 120 commits of 100 events of 4 KB each: three times the checkpoint threshold in all.
        for _ in 0..<120 {
            _ = await submit(writer, Array(repeating: line, count: 100))
            writer.checkpointer.waitUntilIdle()
        }
        let walBytes = try FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int ?? 0
        #expect(walBytes > 0)
        // 120 commits of 100 events of 4 KB: 48 MB, three times the threshold.
        #expect(walBytes < Checkpointer.bytes + 1200 * 4096, "the WAL started over instead of growing to 48 MB: \(walBytes)")
        let snapshot = try QueueSnapshot(path: path)
        #expect(snapshot.counters["queued_events"] == 12000)
    }

    @Test("a delivery write shares the group commit: the head is cut, delivered ids above it are kept aside")
    func deliveryWrite() async throws {
        let folder = TemporaryDirectory()
        defer { folder.remove() }
        let (writer, path) = try makeWriter(folder)
        let bodies = ["{\"a\":1}", "{\"b\":2}", "{\"c\":3}", "{\"d\":4}", "{\"e\":5}"]
        _ = await submit(writer, bodies.map { [event($0)] })
        var status = DeliveryStatus()
        status.state = .ok
        status.concurrency = 3
        // A lane's batch, ids interleaved with another lane's (2 still out): cut through 1 only.
        let result = await perform(writer, .markDelivered(ids: [1, 3, 4], through: 1, status: status))
        #expect((try? result.get()) != nil)
        var snapshot = try QueueSnapshot(path: path)
        #expect(snapshot.events == ["{\"b\":2}", "{\"c\":3}", "{\"d\":4}", "{\"e\":5}"])
        #expect(snapshot.counters["delivered_events"] == 1)
        let store = try QueueStore(path: path, durability: .full, create: false)
        #expect(try store.readStatus() == status)
        #expect(try store.events(ids: [1, 2, 5]).map(\.id) == [2, 5], "read by id, the gone skipped")
        // 2 delivered too: the cut passes 3 and 4, recorded before, and keeps 5.
        _ = await perform(writer, .markDelivered(ids: [2], through: 4, status: status))
        snapshot = try QueueSnapshot(path: path)
        #expect(snapshot.events == ["{\"e\":5}"])
        #expect(snapshot.counters["delivered_events"] == 4)
        #expect(snapshot.counters["queued_events"] == 1)
    }

    @Test("delivered ids above the cut are deleted at the next start, never sent again")
    func deliveredAboveTheCutAfterRestart() async throws {
        let folder = TemporaryDirectory()
        defer { folder.remove() }
        var (writer, path) = try makeWriter(folder)
        _ = await submit(writer, (1...6).map { [event("{\"n\":\($0)}")] })
        _ = await perform(writer, .markDelivered(ids: [2, 3, 5], through: 0, status: DeliveryStatus()))
        writer.waitUntilIdle()
        (writer, _) = try makeWriter(folder)  // a restart: the last writer is gone
        let snapshot = try QueueSnapshot(path: path)
        #expect(snapshot.events == ["{\"n\":1}", "{\"n\":4}", "{\"n\":6}"])
        #expect(snapshot.counters["delivered_events"] == 3)
        #expect(snapshot.counters["queued_events"] == 3)
        let store = try QueueStore(path: path, durability: .full, create: false)
        #expect(try store.scan(after: 0, limit: 10).map(\.id) == [1, 4, 6])
        _ = writer
    }

    @Test("dropOldest drops delivered events still queued as delivered, not dropped")
    func dropOldestCountsDeliveredAsDelivered() async throws {
        let folder = TemporaryDirectory()
        defer { folder.remove() }
        let (writer, path) = try makeWriter(folder, maxBytes: 40, whenFull: .dropOldest)
        _ = await submit(writer, (1...4).map { [event("{\"n\":\($0)}")] })  // 7 bytes each
        _ = await perform(writer, .markDelivered(ids: [1, 2, 3], through: 0, status: DeliveryStatus()))
        _ = await submit(writer, [[event("{\"big\":\"" + String(repeating: "x", count: 20) + "\"}")]])
        let snapshot = try QueueSnapshot(path: path)
        #expect(snapshot.events.count == 2)
        #expect(snapshot.counters["delivered_events"] == 3)
        #expect(snapshot.counters["dropped_events"] == 0)
    }

    @Test("many concurrent submitters share commits and every one is answered")
    func groupCommit() async throws {
        let folder = TemporaryDirectory()
        defer { folder.remove() }
        let (writer, path) = try makeWriter(folder)
        let total = await withTaskGroup(of: Int.self) { group in
            for task in 0..<50 {
                group.addTask {
                    let outcomes = await submit(writer, (0..<20).map { [event("{\"t\":\(task),\"i\":\($0)}")] })
                    return outcomes.filter { if case .accepted(1, _) = $0 { true } else { false } }.count
                }
            }
            return await group.reduce(0, +)
        }
        #expect(total == 1000)
        #expect(try QueueSnapshot(path: path).events.count == 1000)
    }

    @Test("whenFull reject: a line that does not fit is refused whole, retryably; others still fit")
    func rejectWhenFull() async throws {
        let folder = TemporaryDirectory()
        defer { folder.remove() }
        let (writer, path) = try makeWriter(folder, maxBytes: 20)
        let outcomes = await submit(
            writer,
            [[event("{\"a\":111111}")], [event("{\"b\":2}"), event("{\"c\":3}")], [event("{}")]]
        )
        #expect(outcomes[0] == .accepted(1, firstID: 1))
        guard case .queueFull(let message) = outcomes[1] else {
            Issue.record("expected queue full, got \(outcomes[1])")
            return
        }
        #expect(message.hasPrefix("queue full: 12 bytes queued (queue.maxBytes 20)"))
        #expect(outcomes[2] == .accepted(1, firstID: 2))
        #expect(try QueueSnapshot(path: path).events == ["{\"a\":111111}", "{}"])
    }

    @Test("whenFull dropOldest: the oldest events make room and are counted")
    func dropOldest() async throws {
        let folder = TemporaryDirectory()
        defer { folder.remove() }
        let (writer, path) = try makeWriter(folder, maxBytes: 30, whenFull: .dropOldest)
        for index in 1...5 {
            _ = await submit(writer, [[event("{\"n\":\(index)}")]])  // 7 bytes each
        }
        let snapshot = try QueueSnapshot(path: path)
        #expect(snapshot.events == ["{\"n\":2}", "{\"n\":3}", "{\"n\":4}", "{\"n\":5}"])
        #expect(snapshot.counters["dropped_events"] == 1)
        #expect(snapshot.counters["queued_bytes"] == 28)
    }

    private func submit(_ writer: QueueWriter, trace bytes: Int) async -> QueueWriter.Outcome {
        let export = TraceExport(contentType: "application/x-protobuf", body: [UInt8](repeating: 0x0A, count: bytes))
        return await withCheckedContinuation { continuation in
            writer.submit(trace: export, receivedAt: 1000) { continuation.resume(returning: $0) }
        }
    }

    @Test("queued trace exports count against queue.maxBytes for events too: one bound for the disk")
    func tracesShareTheBound() async throws {
        let folder = TemporaryDirectory()
        defer { folder.remove() }
        let (writer, path) = try makeWriter(folder, maxBytes: 40)
        #expect(await submit(writer, trace: 30) == .accepted(1, firstID: 1))
        let outcomes = await submit(writer, [[event("{\"a\":111111}")], [event("{\"b\":2}")]])  // 12 and 7 bytes
        guard case .queueFull(let message) = outcomes[0] else {
            Issue.record("expected queue full, got \(outcomes[0])")
            return
        }
        #expect(message.hasPrefix("queue full: 30 bytes queued (queue.maxBytes 40)"), "\(message)")
        #expect(outcomes[1] == .accepted(1, firstID: 1))
        let snapshot = try QueueSnapshot(path: path)
        #expect(snapshot.events == ["{\"b\":2}"])
    }

    @Test("whenFull dropOldest makes room among events only: exports stay, a line that cannot fit beside them is refused")
    func dropOldestKeepsTraces() async throws {
        let folder = TemporaryDirectory()
        defer { folder.remove() }
        let (writer, path) = try makeWriter(folder, maxBytes: 30, whenFull: .dropOldest)
        #expect(await submit(writer, trace: 16) == .accepted(1, firstID: 1))
        for index in 1...3 {
            _ = await submit(writer, [[event("{\"n\":\(index)}")]])  // 7 bytes each: two fit beside the export
        }
        let tooBig = await submit(writer, [[event("{\"n\":\"0123456789\"}")]])  // 18 bytes: never fits beside 16
        #expect(tooBig.first.map { if case .queueFull = $0 { true } else { false } } == true, "\(tooBig)")
        let snapshot = try QueueSnapshot(path: path)
        #expect(snapshot.events == ["{\"n\":2}", "{\"n\":3}"])
        #expect(snapshot.counters["dropped_events"] == 1)
        #expect(snapshot.counters["queued_bytes"] == 14)
    }
}

func perform(_ writer: QueueWriter, _ write: QueueWrite) async -> Result<Void, QueueError> {
    await withCheckedContinuation { continuation in
        writer.perform(write) { continuation.resume(returning: $0) }
    }
}

@Suite("queue writer turns")
struct QueueWriterTurnTests {
    @Test("delivery's writes get their turn in the group commits, even under back-to-back ingest")
    func serializedWritesAreNotStarved() async throws {
        let folder = TemporaryDirectory()
        defer { folder.remove() }
        var config = AgentConfig.Queue()
        config.path = folder.file("queue.db")
        let db = try QueueDatabase.open(path: config.path, durability: .full, create: true)
        let committed = NIOLockedValueBox(0)
        let writer = try QueueWriter(db: db, config: config)
        let listener = Task { for await commit in writer.commits { committed.withLockedValue { $0 += commit.events } } }
        let stop = NIOLockedValueBox(false)
        let answered = NIOLockedValueBox(0)
        // Keep eight submissions outstanding at all times: the writer never runs out of work.
        let flooder = Thread {
            let slots = DispatchSemaphore(value: 8)
            var index = 0
            while !stop.withLockedValue({ $0 }) {
                slots.wait()
                index += 1
                writer.submit(lines: [[PreparedEvent(body: Array("{\"n\":\(index)}".utf8))]], receivedAt: 0) { _ in
                    answered.withLockedValue { $0 += 1 }
                    slots.signal()
                }
            }
        }
        flooder.start()
        #expect(await waitFor { committed.withLockedValue { $0 } >= 100 }, "ingest is committing back to back")
        // Counted in commits, not seconds, so a slow disk under a loaded machine cannot fake a
        // starvation: a write rides the commit after the one in progress, so at most the eight
        // submissions of that one are answered before it. The count starts once the write is
        // handed over: a test thread preempted before that would count commits the write never saw.
        var mostOvertaken = 0
        for _ in 0..<20 {
            let handedOver = NIOLockedValueBox(0)
            let (result, after) = await withCheckedContinuation { continuation in
                writer.perform(.status(DeliveryStatus())) { result in
                    continuation.resume(returning: (result, answered.withLockedValue { $0 }))
                }
                let now = answered.withLockedValue { $0 }
                handedOver.withLockedValue { $0 = now }
            }
            let before = handedOver.withLockedValue { $0 }
            try result.get()
            mostOvertaken = max(mostOvertaken, after - before)
        }
        stop.withLockedValue { $0 = true }
        writer.waitUntilIdle()
        writer.finish()
        await listener.value
        #expect(mostOvertaken <= 8, "\(mostOvertaken) ingest submissions were answered before a waiting write")
    }
}
