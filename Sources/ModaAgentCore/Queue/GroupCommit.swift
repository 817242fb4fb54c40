import Atomics

/// One group commit: everything waiting on the writer in one transaction and one fsync. Delivery's
/// writes go first (each in its own savepoint, so one can fail alone), then the lines, each
/// checked against `queue.maxBytes` by `RoomPolicy`, then the trace exports. Runs on the writer's
/// queue only (`QueueWriter`).
final class GroupCommit {
    /// What one commit did, for the writer to answer and announce.
    struct Result {
        /// One outcome per line, per submission, in order.
        var outcomes: [[QueueWriter.Outcome]]
        var traceOutcomes: [QueueWriter.Outcome]
        /// The events added, with their bodies (what delivery sorts and sends from memory).
        var bodies = CommittedBodies()
        var lastEventID: Int64
        var lastTraceID: Int64?
        var failed: QueueError?
    }

    private let db: SQLiteConnection
    private let counters: QueueCounters
    private let room: RoomPolicy
    private let inserter: EventInserter
    private let oldest: SQLiteStatement
    private let deleteThrough: SQLiteStatement
    private var insertTrace: SQLiteStatement?
    /// The newest id `queue.whenFull: dropOldest` has dropped: delivery sends no body it kept of an
    /// event at or below it (`RecentBodies`).
    let droppedThrough: ManagedAtomic<Int64>

    init(
        db: SQLiteConnection,
        counters: QueueCounters,
        room: RoomPolicy,
        droppedThrough: ManagedAtomic<Int64> = ManagedAtomic(0)
    ) throws(QueueError) {
        self.db = db
        self.droppedThrough = droppedThrough
        self.counters = counters
        self.room = room
        inserter = try EventInserter(db: db)
        oldest = try db.prepare("SELECT id, \(QueueWrite.storedSize) FROM events ORDER BY id")
        deleteThrough = try db.prepare("DELETE FROM events WHERE id <= ?")
    }

    /// Commits `jobs`, `submissions` and `traces`; a job that failed alone carries its error.
    func run(
        _ submissions: [QueueWriter.Submission],
        jobs: inout [QueueWriter.Job],
        traces: [QueueWriter.TraceSubmission]
    ) -> Result {
        var result = Result(outcomes: [], traceOutcomes: [], lastEventID: 0, lastTraceID: nil)
        result.outcomes.reserveCapacity(submissions.count)
        do {
            try db.transaction { () throws(QueueError) in
                // Jobs first: the totals read below then include what they changed.
                for index in jobs.indices {
                    do throws(QueueError) {
                        try jobs[index].write.apply(to: db, counters: counters)
                    } catch {
                        jobs[index].error = error
                    }
                }
                let totals = try counters.totals()
                var change = QueueCounters.Events()
                var eventBytes = totals.eventBytes
                var lastID = totals.lastEventID
                var purged = false
                for submission in submissions {
                    var lineOutcomes: [QueueWriter.Outcome] = []
                    let lines = submission.lines
                    var source: Int?
                    lineOutcomes.reserveCapacity(lines.lineCount)
                    // The bound bodies stay valid until the rows are flushed, inside this call.
                    try lines.withBodies { (bodies) throws(QueueError) in
                        for line in 0..<lines.lineCount {
                            let events = lines.events(ofLine: line)
                            let lineBytes = Int64(lines.bodyBytes(of: events))
                            var situation = RoomPolicy.Situation(
                                eventBytes: eventBytes,
                                traceBytes: totals.traceBytes,
                                lineBytes: lineBytes,
                                purged: purged
                            )
                            var fits = false
                            decide: while true {
                                switch room.step(situation) {
                                case .insert:
                                    fits = true
                                    break decide
                                case .refuse(let queued):
                                    let message = QueueWriter.fullMessage(bytes: queued, limit: room.maxBytes)
                                    lineOutcomes.append(.queueFull(message))
                                    break decide
                                case .purgeDelivered:
                                    try inserter.flush()
                                    let gone = try Self.purgeDelivered(in: db, counters: counters)
                                    eventBytes -= gone.bytes
                                    purged = true
                                    situation.eventBytes = eventBytes
                                    situation.purged = true
                                case .dropOldest(let needed):
                                    try inserter.flush()
                                    let freed = try dropOldest(atLeast: needed)
                                    change.queued -= freed.events
                                    change.bytes -= freed.bytes
                                    change.dropped += freed.events
                                    eventBytes -= freed.bytes
                                    fits = true
                                    break decide
                                }
                            }
                            guard fits else { continue }
                            var firstID: Int64 = 0
                            for event in events {
                                lastID += 1
                                let id = lastID
                                let body = bodies[event]
                                let conversation = lines.conversation(event)
                                try inserter.add(
                                    EventInserter.Row(
                                        id: id,
                                        body: body,
                                        conversation: conversation,
                                        receivedAt: submission.receivedAt
                                    )
                                )
                                if firstID == 0 { firstID = id }
                                if source == nil { source = result.bodies.add(lines) }
                                result.bodies.append(id: id, source: source ?? 0, event: event)
                            }
                            change.queued += Int64(events.count)
                            change.bytes += lineBytes
                            eventBytes += lineBytes
                            lineOutcomes.append(.accepted(events.count, firstID: firstID))
                        }
                        try inserter.flush()
                    }
                    result.outcomes.append(lineOutcomes)
                }
                if lastID > totals.lastEventID { change.lastID = lastID }
                try counters.add(change)
                result.lastEventID = lastID
                if !traces.isEmpty {
                    result.traceOutcomes = try insert(
                        traces,
                        eventBytes: eventBytes,
                        traceBytes: totals.traceBytes,
                        into: &result
                    )
                }
            }
        } catch {
            inserter.discard()
            for index in jobs.indices where jobs[index].error == nil { jobs[index].error = error }
            let message = QueueWriter.failureMessage(error)
            result.outcomes = submissions.map { Array(repeating: .failed(message), count: $0.lines.lineCount) }
            result.traceOutcomes = traces.map { _ in .failed(message) }
            result.bodies = CommittedBodies()
            result.lastTraceID = nil
            result.failed = error
        }
        return result
    }

    /// Inserts trace exports while the queue has room; a full queue refuses an export.
    private func insert(
        _ traces: [QueueWriter.TraceSubmission],
        eventBytes: Int64,
        traceBytes: Int64,
        into result: inout Result
    ) throws(QueueError) -> [QueueWriter.Outcome] {
        let statement: SQLiteStatement
        if let prepared = insertTrace {
            statement = prepared
        } else {
            // Prepared on first use: a daemon that never receives a trace export never compiles it.
            statement = try db.prepare("INSERT INTO traces (received_at, content_type, body) VALUES (?, ?, ?)")
            insertTrace = statement
        }
        var change = QueueCounters.Traces()
        var outcomes: [QueueWriter.Outcome] = []
        outcomes.reserveCapacity(traces.count)
        for trace in traces {
            let size = Int64(trace.export.body.count)
            guard room.fits(export: size, eventBytes: eventBytes, traceBytes: traceBytes + change.bytes) else {
                let queued = eventBytes + traceBytes + change.bytes
                outcomes.append(.queueFull(QueueWriter.fullMessage(bytes: queued, limit: room.maxBytes)))
                continue
            }
            statement.bind(1, trace.receivedAt)
            statement.bind(2, trace.export.contentType)
            trace.export.body.withUnsafeBytes { statement.bindBlob(3, $0) }
            try statement.run()
            result.lastTraceID = db.lastInsertRowID
            change.queued += 1
            change.bytes += size
            outcomes.append(.accepted(1, firstID: db.lastInsertRowID))
        }
        try counters.add(change)
        return outcomes
    }

    /// Deletes the delivered events still queued (`markDelivered` keeps them until the head is cut)
    /// and counts them delivered; returns what went.
    static func purgeDelivered(
        in db: SQLiteConnection,
        counters: QueueCounters
    ) throws(QueueError) -> (events: Int64, bytes: Int64) {
        let removed = try QueueWrite.purgeDelivered(in: db)
        try counters.add(.delivered(removed.events, bytes: removed.bytes))
        return removed
    }

    /// Deletes the oldest events until at least `needed` bytes are free; returns what went (the
    /// caller counts it: dropped).
    private func dropOldest(atLeast needed: Int64) throws(QueueError) -> (events: Int64, bytes: Int64) {
        var freedBytes: Int64 = 0
        var freedEvents: Int64 = 0
        var lastID: Int64 = 0
        defer { oldest.reset() }
        while freedBytes < needed, try oldest.step() {
            lastID = oldest.int64(0)
            freedBytes += oldest.int64(1)
            freedEvents += 1
        }
        oldest.reset()
        if freedEvents > 0 {
            // Before the delete: a request built from memory meanwhile falls back to the rows.
            droppedThrough.store(lastID, ordering: .releasing)
            deleteThrough.bind(1, lastID)
            try deleteThrough.run()
        }
        return (freedEvents, freedBytes)
    }
}
