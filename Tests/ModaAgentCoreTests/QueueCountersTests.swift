import ModaAgentTestSupport
import Testing

@testable import ModaAgentCore

/// The counters rows against the tables they count, after a seeded run of everything that adds
/// or removes rows: lines (with `dropOldest` or refusals at a small `queue.maxBytes`), delivered
/// batches with ids above the head, dead letters, trace exports, restarts with delivered ids
/// still queued. The counters are changed by deltas only and never clamped, so any drift shows.
@Suite("queue counters")
struct QueueCountersTests {
    private struct Model {
        var acceptedEvents: Int64 = 0
        var acceptedExports: Int64 = 0
        /// Ids not yet delivered or dead-lettered, ascending (some may be gone: dropped).
        var open: [Int64] = []
        var newestID: Int64 = 0
    }

    @Test(
        "after a seeded chaos run the counters match the rows, and every accepted event is accounted for",
        arguments: [(1, .dropOldest), (2, .dropOldest), (3, .reject), (4, .dropOldest)]
            as [(UInt64, AgentConfig.WhenFull)]
    )
    func countersMatchRows(seed: UInt64, whenFull: AgentConfig.WhenFull) async throws {
        let folder = TemporaryDirectory()
        defer { folder.remove() }
        var config = AgentConfig.Queue()
        config.path = folder.file("q/queue.db")
        config.maxBytes = 3_000
        config.whenFull = whenFull
        func start() throws -> QueueWriter {
            try QueueWriter(db: QueueDatabase.open(path: config.path, durability: .full, create: true), config: config)
        }
        var writer = try start()
        let store = try QueueStore(path: config.path, durability: .full, create: false)
        var random = SeededGenerator(seed: seed)
        var model = Model()
        for _ in 0..<300 {
            switch Int.random(in: 0..<100, using: &random) {
            case 0..<45:
                let lines = (0..<Int.random(in: 1...4, using: &random)).map { _ in
                    (0..<Int.random(in: 1...3, using: &random)).map { _ in
                        let padding = String(repeating: "x", count: Int.random(in: 0...80, using: &random))
                        return PreparedEvent(body: Array("{\"p\":\"\(padding)\"}".utf8))
                    }
                }
                let outcomes = await submit(writer, lines)
                for case .accepted(let count, _) in outcomes { model.acceptedEvents += Int64(count) }
                let added = try store.scan(after: model.newestID, limit: 10_000).map(\.id)
                model.open += added
                model.newestID = added.last ?? model.newestID
            case 45..<68 where !model.open.isEmpty:
                // A batch from the head, and maybe a few ids further up (another lane's, delivered first).
                let head = Int.random(in: 1...min(model.open.count, 12), using: &random)
                let through = model.open[head - 1]
                var ids = Array(model.open[..<head])
                for id in model.open[head...].prefix(6) where Bool.random(using: &random) { ids.append(id) }
                model.open.removeAll { ids.contains($0) }
                let result = await perform(writer, .markDelivered(ids: ids, through: through, status: DeliveryStatus()))
                try result.get()
            case 68..<76 where !model.open.isEmpty:
                let id = model.open.remove(at: Int.random(in: 0..<model.open.count, using: &random))
                guard let event = try store.events(ids: [id]).first else { continue }  // dropped meanwhile
                let fault = DeliveryFault(status: 422, message: "invalid")
                try await perform(writer, .deadLetter(event, fault: fault, at: 1, status: DeliveryStatus())).get()
            case 76..<86:
                let size = Int.random(in: 1...400, using: &random)
                let export = TraceExport(contentType: "application/x-protobuf", body: Array(repeating: 7, count: size))
                let outcome = await withCheckedContinuation { continuation in
                    writer.submit(trace: export, receivedAt: 1) { continuation.resume(returning: $0) }
                }
                if case .accepted(1, _) = outcome { model.acceptedExports += 1 }
            case 86..<92:
                let ids = try store.scanTraces(after: 0, limit: 3).map { $0.0.id }
                try await perform(writer, .markTracesDelivered(ids: ids, status: DeliveryStatus())).get()
            case 92..<96:
                guard let id = try store.scanTraces(after: 0, limit: 1).first?.0.id,
                    let trace = try store.traces(ids: [id]).first
                else { continue }
                let fault = DeliveryFault(status: 400, message: "bad export")
                try await perform(writer, .deadLetterTrace(trace, fault: fault, at: 1, status: DeliveryStatus())).get()
            default:
                // A restart: delivered ids above the cut are deleted (and counted) by the next writer.
                writer.waitUntilIdle()
                writer = try start()
            }
        }
        writer.waitUntilIdle()
        let db = try SQLiteConnection(path: config.path, readOnly: true)
        let rows = try self.rows(db)
        #expect(rows.counters.queuedEvents == rows.events, "queued_events against count(*) of events")
        #expect(rows.counters.queuedBytes == rows.eventBytes, "queued_bytes against the rows' sizes")
        #expect(rows.traceCounters.queuedExports == rows.exports)
        #expect(rows.traceCounters.queuedBytes == rows.exportBytes)
        let events = rows.counters
        #expect(
            model.acceptedEvents
                == Int64(events.queuedEvents + events.deliveredEvents + events.droppedEvents) + rows.deadEvents,
            "every accepted event is queued, delivered, dropped or a dead letter"
        )
        #expect(
            model.acceptedExports
                == Int64(rows.traceCounters.queuedExports + rows.traceCounters.deliveredExports) + rows.deadExports
        )
        #expect(model.acceptedEvents > 100, "the run did work")
        if whenFull == .dropOldest { #expect(events.droppedEvents > 0, "the run filled the queue") }
        #expect(events.deliveredEvents > 0)
    }

    private struct Rows {
        var counters: QueueStore.Counters
        var traceCounters: QueueStore.TraceCounters
        var events: Int
        var eventBytes: Int
        var exports: Int
        var exportBytes: Int
        var deadEvents: Int64
        var deadExports: Int64
    }

    private func rows(_ db: SQLiteConnection) throws -> Rows {
        let store = try QueueStore(connection: db)
        return Rows(
            counters: try store.counters(),
            traceCounters: try store.traceCounters(),
            events: Int(try db.scalarInt("SELECT count(*) FROM events") ?? -1),
            eventBytes: Int(try db.scalarInt("SELECT coalesce(sum(\(QueueWrite.storedSize)), 0) FROM events") ?? -1),
            exports: Int(try db.scalarInt("SELECT count(*) FROM traces") ?? -1),
            exportBytes: Int(try db.scalarInt("SELECT coalesce(sum(length(body)), 0) FROM traces") ?? -1),
            deadEvents: try db.scalarInt("SELECT count(*) FROM dead_letters WHERE kind = 'events'") ?? -1,
            deadExports: try db.scalarInt("SELECT count(*) FROM dead_letters WHERE kind = 'traces'") ?? -1
        )
    }

    private func submit(_ writer: QueueWriter, _ lines: [[PreparedEvent]]) async -> [QueueWriter.Outcome] {
        await withCheckedContinuation { continuation in
            writer.submit(lines: lines, receivedAt: 1000) { continuation.resume(returning: $0) }
        }
    }
}
