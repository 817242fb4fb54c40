import Foundation
import ModaAgentTestSupport
import NIOConcurrencyHelpers
import Testing

@testable import ModaAgentCore

/// What monitors read instead of the database: the writer's levels, published before anyone hears
/// of the transaction, so an acknowledged line is always counted.
@Suite("published queue levels")
struct PublishedLevelsTests {
    private func makeWriter(_ folder: TemporaryDirectory) throws -> QueueWriter {
        var config = AgentConfig.Queue()
        config.path = folder.file("q/queue.db")
        let db = try QueueDatabase.open(path: config.path, durability: .full, create: true)
        return try QueueWriter(db: db, config: config)
    }

    private static func event(_ n: Int) -> PreparedEvent {
        PreparedEvent(body: Array(#"{"n":\#(n)}"#.utf8))
    }

    @Test("each completion already sees its events in the levels; deletions show once cut")
    func levelsBeforeCompletion() async throws {
        let folder = TemporaryDirectory()
        let writer = try makeWriter(folder)
        #expect(writer.levels.value == QueueLevels(), "an empty queue at start")
        for round in 1...5 {
            let seen = await withCheckedContinuation { continuation in
                writer.submit(lines: [[Self.event(round)], [Self.event(round), Self.event(round)]], receivedAt: 1000) {
                    _ in continuation.resume(returning: writer.levels.value)
                }
            }
            #expect(seen.queuedEvents == round * 3)
            #expect(seen.queuedBytes == round * 3 * 7)
            #expect(seen.oldestReceivedAt == 1000)
        }
        _ = await perform(writer, .markDelivered(ids: Array(1...15), through: 15, status: DeliveryStatus()))
        let drained = writer.levels.value
        #expect(drained.queuedEvents == 0 && drained.deliveredEvents == 15 && drained.oldestReceivedAt == nil)
    }

    @Test("a ping comes back through the writer's queue without waiting for its work")
    func ping() async throws {
        let folder = TemporaryDirectory()
        let writer = try makeWriter(folder)
        let answered = NIOLockedValueBox(false)
        await withCheckedContinuation { continuation in
            writer.ping {
                answered.withLockedValue { $0 = true }
                continuation.resume()
            }
        }
        #expect(answered.withLockedValue { $0 })
    }
}
