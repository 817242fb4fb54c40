import Foundation
import ModaAgentTestSupport
import Testing

@testable import ModaAgentCore

/// The group commit's inserts, 32 rows a statement: every row as prepared, and nothing else in the
/// transaction (dropping the oldest events for room) runs before the rows ahead of it are in.
@Suite("event inserter")
struct EventInserterTests {
    /// A body of exactly 10 bytes for n below 100,000.
    private static func event(_ n: Int, conversation: String = "c") -> PreparedEvent {
        let digits = String(n)
        let body = #"{"conversation_id":"\#(conversation)","n":\#(digits)\#(String(repeating: " ", count: 5 - digits.count))}"#
        return PreparedEvent(body: Array(body.utf8))
    }

    @Test("a submission of 100 lines, one of 40 events, is stored row for row as prepared, with consecutive ids")
    func rowForRow() async throws {
        let folder = TemporaryDirectory()
        defer { folder.remove() }
        let (writer, path) = try QueueWriterFixtures.writer(folder)
        var lines = (0..<99).map { [Self.event($0, conversation: "c\($0 % 5)")] }
        lines.insert((100..<140).map { Self.event($0, conversation: "e\($0 % 3)") }, at: 50)
        let outcomes = await QueueWriterFixtures.submit(writer, lines)
        writer.finish()
        #expect(outcomes.count == 100 && outcomes[50] == .accepted(40, firstID: 51) && outcomes[51] == .accepted(1, firstID: 91))
        let db = try QueueDatabase.open(path: path, durability: .full, create: false)
        defer { db.close() }
        let stored = try db.prepare("SELECT id, body, conversation, size FROM events ORDER BY id")
        var rows: [(Int64, [UInt8], UInt64, Int64)] = []
        while try stored.step() {
            rows.append(
                (stored.int64(0), stored.withBytes(1) { Array($0) }, UInt64(bitPattern: stored.int64(2)), stored.int64(3))
            )
        }
        stored.reset()
        let expected = lines.flatMap { $0 }
        #expect(rows.count == 139)
        #expect(rows.map(\.0) == Array(1...139))
        #expect(rows.map(\.1) == expected.map(\.body))
        #expect(rows.map(\.2) == expected.map(\.conversation))
        #expect(rows.map(\.3) == expected.map { Int64($0.body.count) })
    }

    @Test("whenFull dropOldest inside one submission drops rows the same submission inserted before it")
    func dropOldestSeesPendingRows() async throws {
        let folder = TemporaryDirectory()
        defer { folder.remove() }
        let size = Self.event(0).body.count
        let (writer, path) = try QueueWriterFixtures.writer(folder, maxBytes: 3 * size, whenFull: .dropOldest)
        // Each line of three fills the queue alone: the last must drop the three rows of the one before
        // it, inserted in this commit and still short of a full statement.
        let lines = [[Self.event(0)], [Self.event(1)], [Self.event(2)], (3..<6).map { Self.event($0) }, (6..<9).map { Self.event($0) }]
        let outcomes = await QueueWriterFixtures.submit(writer, lines)
        writer.finish()
        #expect(outcomes.allSatisfy { if case .accepted = $0 { true } else { false } })
        let snapshot = try QueueSnapshot(path: path)
        #expect(snapshot.events == (6..<9).map { String(decoding: Self.event($0).body, as: UTF8.self) })
        #expect(snapshot.counters["dropped_events"] == 6)
        #expect(snapshot.counters["queued_events"] == 3)
        #expect(snapshot.counters["queued_bytes"] == Int64(3 * size))
    }
}
