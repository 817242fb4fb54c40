import Atomics
import Foundation
import ModaAgentTestSupport
import NIOCore
import Testing

@testable import ModaAgentCore

/// Delivery's requests written from the bodies a commit announced (`RecentBodies`) instead of the rows:
/// the same bytes as from the rows, and the rows read whenever memory does not hold every id or an id
/// may have been dropped for room.
@Suite("recent bodies")
struct RecentBodiesTests {
    /// Bodies of one size for n below 1,000 (the room policy's arithmetic stays simple).
    private static func event(_ n: Int) -> PreparedEvent {
        let digits = String(n)
        let padding = String(repeating: " ", count: 3 - digits.count)
        return PreparedEvent(body: Array(#"{"conversation_id":"c\#(n % 7)","n":\#(digits)\#(padding)}"#.utf8))
    }

    /// Submits `lines` and returns what the writer announced for them.
    private static func commit(
        _ writer: QueueWriter,
        _ lines: [[PreparedEvent]]
    ) async -> ([QueueWriter.Outcome], QueueWriter.Commit?) {
        let outcomes = await QueueWriterFixtures.submit(writer, lines)
        var commits = writer.commits.makeAsyncIterator()
        let accepted = outcomes.contains { if case .accepted = $0 { true } else { false } }
        return (outcomes, accepted ? await commits.next() : nil)
    }

    private static func string(_ buffer: ByteBuffer) -> String { String(buffer: buffer) }

    @Test("a request from the kept bodies is the request from the rows, byte for byte, conversations too")
    func sameAsRows() async throws {
        let folder = TemporaryDirectory()
        defer { folder.remove() }
        let (writer, path) = try QueueWriterFixtures.writer(folder)
        defer { writer.finish() }
        var lines = (0..<50).map { [Self.event($0)] }
        lines.insert((50..<80).map { Self.event($0) }, at: 20)
        let (_, first) = await Self.commit(writer, lines)
        let (_, second) = await Self.commit(writer, (80..<120).map { [Self.event($0)] })
        let commits = try #require(first.flatMap { a in second.map { [a, $0] } })
        #expect(commits.map(\.bodies.firstID) == [1, 81] && commits.map(\.bodies.count) == [80, 40])
        var kept = RecentBodies()
        for commit in commits { kept.keep(commit.bodies) }
        let reader = try QueueStore(path: path, durability: .full, create: false)
        defer { reader.close() }
        // A batch of one conversation across both commits, and every id.
        for ids in [Array(stride(from: 3, through: 118, by: 7)).map(Int64.init), (1...120).map(Int64.init)] {
            var spare = ByteBuffer()
            let fromMemory = try #require(kept.requestBody(ids: ids, droppedThrough: 0, spare: &spare))
            let fromRows = try #require(try reader.requestBody(ids: ids))
            #expect(Self.string(fromMemory.body) == Self.string(fromRows.body))
            #expect(fromMemory.ids == fromRows.ids && fromMemory.conversations == fromRows.conversations)
        }
    }

    @Test("the rows are read unless every id is kept and above the mark of events dropped for room")
    func fallsBack() async throws {
        let folder = TemporaryDirectory()
        defer { folder.remove() }
        let (writer, _) = try QueueWriterFixtures.writer(folder)
        defer { writer.finish() }
        let (_, commit) = await Self.commit(writer, (0..<10).map { [Self.event($0)] })
        var kept = RecentBodies()
        kept.keep(try #require(commit).bodies)
        var spare = ByteBuffer(string: "an earlier request")
        #expect(kept.requestBody(ids: [9, 10, 11], droppedThrough: 0, spare: &spare) == nil)
        #expect(kept.requestBody(ids: [0, 1], droppedThrough: 0, spare: &spare) == nil)
        #expect(kept.requestBody(ids: [4, 5], droppedThrough: 4, spare: &spare) == nil)
        // Untouched when it falls back: the rows' read writes into it.
        #expect(Self.string(spare) == "an earlier request")
        let served = kept.requestBody(ids: [5, 6], droppedThrough: 4, spare: &spare)
        #expect(
            served.map { Self.string($0.body) }
                == #"{"events":[{"conversation_id":"c4","n":4  },{"conversation_id":"c5","n":5  }]}"#
        )
        #expect(spare.readableBytes == 0)
    }

    @Test("an event dropped for room is never sent from memory: the request comes from the rows left")
    func droppedForRoom() async throws {
        let folder = TemporaryDirectory()
        defer { folder.remove() }
        let size = Self.event(0).body.count
        let (writer, path) = try QueueWriterFixtures.writer(folder, maxBytes: 10 * size, whenFull: .dropOldest)
        defer { writer.finish() }
        let (_, first) = await Self.commit(writer, (0..<10).map { [Self.event($0)] })
        var kept = RecentBodies()
        kept.keep(try #require(first).bodies)
        // Three more lines drop the three oldest events, 1 to 3.
        let (outcomes, _) = await Self.commit(writer, (10..<13).map { [Self.event($0)] })
        #expect(outcomes == [.accepted(1, firstID: 11), .accepted(1, firstID: 12), .accepted(1, firstID: 13)])
        #expect(writer.droppedThrough.load(ordering: .acquiring) == 3)
        let source = EventSource(
            reader: try QueueStore(path: path, durability: .full, create: false),
            droppedThrough: writer.droppedThrough
        )
        defer { source.close() }
        let request = try #require(try source.request(ids: [2, 3, 4, 5], spare: ByteBuffer(), kept: kept))
        #expect(
            String(buffer: request.body)
                == #"{"events":[{"conversation_id":"c3","n":3  },{"conversation_id":"c4","n":4  }]}"#
        )
    }

    @Test("kept bodies are sent without reading the queue: an empty queue's reader still gives the request")
    func noRead() async throws {
        let folder = TemporaryDirectory()
        defer { folder.remove() }
        let (writer, _) = try QueueWriterFixtures.writer(folder)
        defer { writer.finish() }
        let (_, commit) = await Self.commit(writer, (0..<4).map { [Self.event($0)] })
        var kept = RecentBodies()
        kept.keep(try #require(commit).bodies)
        let other = TemporaryDirectory()
        defer { other.remove() }
        let emptyQueue = try QueueStore(path: other.file("q/queue.db"), durability: .full, create: true)
        let source = EventSource(reader: emptyQueue)
        defer { source.close() }
        let request = try #require(try source.request(ids: [1, 2, 3, 4], spare: ByteBuffer(), kept: kept))
        #expect(request.groups.flatMap(\.ids).sorted() == [1, 2, 3, 4])
        #expect(String(buffer: request.body).hasPrefix(#"{"events":[{"conversation_id":"c0","n":0  },"#))
        // Not kept: read from the (empty) queue, which has none of them.
        #expect(try source.request(ids: [1, 2, 3, 4], spare: ByteBuffer(), kept: RecentBodies()) == nil)
    }

    @Test("commits are forgotten once delivered or not taken, and kept only up to the limit")
    func forgetting() async throws {
        let folder = TemporaryDirectory()
        defer { folder.remove() }
        let (writer, _) = try QueueWriterFixtures.writer(folder)
        defer { writer.finish() }
        var commits: [QueueWriter.Commit] = []
        for start in stride(from: 0, to: 30, by: 10) {
            commits.append(try #require(await Self.commit(writer, (start..<start + 10).map { [Self.event($0)] }).1))
        }
        var kept = RecentBodies()
        for commit in commits { kept.keep(commit.bodies) }
        let all = commits.reduce(0) { $0 + $1.bodies.storageBytes }
        #expect(kept.storageBytes == all && all > 0)
        kept.forget(through: 15)
        #expect(kept.storageBytes == all - commits[0].bodies.storageBytes)
        kept.forget(after: 20)
        #expect(kept.storageBytes == commits[1].bodies.storageBytes)
        var spare = ByteBuffer()
        #expect(kept.requestBody(ids: [16, 20], droppedThrough: 0, spare: &spare) != nil)
        #expect(kept.requestBody(ids: [21], droppedThrough: 0, spare: &spare) == nil)
        // A commit out of order (ids below the last kept) is not kept.
        kept.keep(commits[0].bodies)
        #expect(kept.storageBytes == commits[1].bodies.storageBytes)
        kept.removeAll()
        #expect(kept.isEmpty && kept.storageBytes == 0)
        // Past the limit, a commit is not kept at all.
        var large = PreparedLines()
        let body = [UInt8](repeating: UInt8(ascii: " "), count: RecentBodies.limitBytes / 2 + 1)
        large.appendEvent(size: body.count, conversation: 1) { $0.append(contentsOf: body) }
        large.endLine()
        var bodies = CommittedBodies()
        let source = bodies.add(large)
        bodies.append(id: 100, source: source, event: 0)
        var full = RecentBodies()
        full.keep(bodies)
        #expect(full.storageBytes == bodies.storageBytes)
        var next = CommittedBodies()
        let nextSource = next.add(large)
        next.append(id: 101, source: nextSource, event: 0)
        full.keep(next)
        #expect(full.storageBytes == bodies.storageBytes)
    }
}
