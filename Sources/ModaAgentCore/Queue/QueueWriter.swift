import Atomics
import CoreMetrics
import Dispatch
import Logging
import NIOConcurrencyHelpers

/// The one owner of the queue's write connection: group commit. Connections hand over every line
/// they have read so far, delivery its removals, dead letters and state (`QueueWrite`); one
/// transaction (one fsync) takes everything waiting, and only then are the submitters told, so a
/// reply is never sent for an event that is not durable. Each commit that added events is
/// announced on `commits`.
public final class QueueWriter: @unchecked Sendable {
    // @unchecked: `db`, the prepared statements, `reserve`, the last ids and the cut's state are
    // touched only on `queue` (a serial queue); `pending`, `jobs`, `traces` and `drainScheduled`
    // only under `lock`.
    public enum Outcome: Sendable, Equatable {
        /// `count` events stored with the consecutive ids `firstID`... (one writer, one line's
        /// inserts in a row: AUTOINCREMENT hands them out in order, never twice).
        case accepted(Int, firstID: Int64)
        /// Refused for lack of room; the client may retry.
        case queueFull(String)
        /// The transaction failed (disk full, I/O error); nothing of the line is queued; retryable.
        case failed(String)
    }

    private struct Submission {
        var lines: [[PreparedEvent]]
        var receivedAt: Double
        var completion: @Sendable ([Outcome]) -> Void
    }

    /// One OTLP trace export (SPEC 10.2), stored as received with its content type.
    private struct TraceSubmission {
        var export: TraceExport
        var receivedAt: Double
        var completion: @Sendable (Outcome) -> Void
    }

    /// Events added by one commit; ids up to `lastID` are in the queue.
    public struct Commit: Sendable, Equatable {
        public var events: Int
        public var lastID: Int64
        /// Events only: the events of the commit as delivery sorts them (id, size, conversation),
        /// which it takes instead of reading back the rows while it has caught up with the queue.
        public var added: [ScannedEvent] = []
    }

    /// A write of delivery's that rides on the next group commit: its own savepoint, the group's
    /// transaction and fsync.
    private struct Job {
        var write: QueueWrite
        var completion: @Sendable (Result<Void, QueueError>) -> Void
        var error: QueueError? = nil
    }

    /// One element per commit that added events, in commit order; one listener (delivery).
    public let commits: AsyncStream<Commit>
    private let announce: AsyncStream<Commit>.Continuation
    /// The same for trace exports (`events` counts exports); one listener (trace delivery).
    public let traceCommits: AsyncStream<Commit>
    private let announceTraces: AsyncStream<Commit>.Continuation

    private let db: SQLiteConnection
    private let queue = DispatchQueue(label: "moda-agent.queue-writer")
    private let lock = NIOLock()
    private var pending: [Submission] = []
    private var jobs: [Job] = []
    private var traces: [TraceSubmission] = []
    private var drainScheduled = false
    private let maxBytes: Int
    private let whenFull: AgentConfig.WhenFull
    private let insert: SQLiteStatement
    private let readCounters: SQLiteStatement
    private let writeCounters: SQLiteStatement
    private let oldest: SQLiteStatement
    private let deleteThrough: SQLiteStatement
    private let reserve: DiskReserve?
    private let logger: Logger
    private let commitDuration = CoreMetrics.Timer(label: "moda_agent_commit_duration_seconds")
    private let lastCommitFailure = ManagedAtomic<Bool>(false)
    private var traceStatementCache: (SQLiteStatement, SQLiteStatement, SQLiteStatement)?
    /// The newest event and trace export ids of the commit under way (the writer's queue only).
    private var lastEventID: Int64 = 0
    private var lastTraceID: Int64?
    let checkpointer: Checkpointer
    /// What `modactl tail` follows (docs/tracing.md); every part of the pipeline reaches it here.
    public let tap = FlowTap()
    private let logPruner: DeliveryLogPruner
    /// Delivered events up to `cutTarget` may be deleted; up to `cutDone` they are. Cutting runs in
    /// chunks of its own, when no line waits or when it falls far behind (see `drain`).
    private var cutTarget: Int64 = 0
    private var cutDone: Int64 = 0
    private var cutFailed = false
    private let cutChunk: SQLiteStatement
    /// `PRAGMA synchronous` for the commits that acknowledge lines, restored after a cut.
    private let synchronous: String
    /// Completions of `markDelivered` writes: each runs once the cut has passed its `through`, so
    /// delivery learns its batch left the queue only when it has.
    private var cutWaiters: [(through: Int64, completion: @Sendable (Result<Void, QueueError>) -> Void)] = []

    /// `reserve` is the space set aside for removing delivered events on a full disk.
    init(
        db: SQLiteConnection,
        config: AgentConfig.Queue,
        reserve: DiskReserve? = nil,
        trace: AgentConfig.Trace = AgentConfig.Trace(),
        logger: Logger = Logger(label: "moda-agent")
    ) throws(QueueError) {
        self.db = db
        self.maxBytes = config.maxBytes
        self.synchronous = config.durability == .full ? "FULL" : "NORMAL"
        self.whenFull = config.whenFull
        self.reserve = reserve
        self.logger = logger
        (commits, announce) = AsyncStream.makeStream(of: Commit.self)
        (traceCommits, announceTraces) = AsyncStream.makeStream(of: Commit.self)
        // Delivered rows are deleted some seconds after they were written: with the 512 KiB every
        // connection gets, their pages were evicted by then and each deletion read them back. The
        // writer keeps more of the recent queue (SQLite fills the cache only as pages are used; an
        // idle daemon holds little of it).
        try db.execute("PRAGMA cache_size = -\(Self.cacheKiB)")
        // Delivery's writes each run in a savepoint (`QueueWrite.apply`), which copies every page it
        // changes into a sub-journal first: in memory, that copy is a memcpy; in a temporary file
        // it was the writer's largest write, bigger than the WAL itself.
        try db.execute("PRAGMA temp_store = MEMORY")
        checkpointer = try Checkpointer(path: db.path)
        checkpointer.watch(db)
        cutChunk = try db.prepare(
            "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE id <= ? ORDER BY id LIMIT \(Self.cutChunkRows)) "
                + "RETURNING id, \(QueueWrite.storedSize)"
        )
        // Delivered before the last stop but not yet cut from the head: never to be sent again.
        try db.transaction { () throws(QueueError) in _ = try Self.forgetDelivered(in: db) }
        insert = try db.prepare("INSERT INTO events (received_at, body, conversation, size) VALUES (?, ?, ?, ?)")
        // Trace exports' bytes too: events and traces share queue.maxBytes, one bound for the disk.
        readCounters = try db.prepare(
            "SELECT c.queued_events, c.queued_bytes, c.dropped_events, t.queued_bytes "
                + "FROM counters c, trace_counters t WHERE c.id = 1 AND t.id = 1"
        )
        writeCounters = try db.prepare(
            "UPDATE counters SET queued_events = ?, queued_bytes = ?, dropped_events = ? WHERE id = 1"
        )
        oldest = try db.prepare("SELECT id, \(QueueWrite.storedSize) FROM events ORDER BY id")
        deleteThrough = try db.prepare("DELETE FROM events WHERE id <= ?")
        logPruner = try DeliveryLogPruner(db: db, settings: trace, synchronous: synchronous, logger: logger)
    }

    /// Hands over the lines of one read; `completion` gets one outcome per line, in order, on the
    /// writer's queue. One call per read burst, not per line, keeps lock traffic flat.
    public func submit(
        lines: [[PreparedEvent]],
        receivedAt: Double,
        completion: @escaping @Sendable ([Outcome]) -> Void
    ) {
        let schedule = lock.withLock { () -> Bool in
            pending.append(Submission(lines: lines, receivedAt: receivedAt, completion: completion))
            if drainScheduled { return false }
            drainScheduled = true
            return true
        }
        if schedule {
            queue.async { self.drain() }
        }
    }

    /// Hands over one trace export; `completion` runs on the writer's queue once it is committed
    /// (or refused). It rides on the same group commit and fsync as events.
    public func submit(trace: TraceExport, receivedAt: Double, completion: @escaping @Sendable (Outcome) -> Void) {
        let schedule = lock.withLock { () -> Bool in
            traces.append(TraceSubmission(export: trace, receivedAt: receivedAt, completion: completion))
            if drainScheduled { return false }
            drainScheduled = true
            return true
        }
        if schedule {
            queue.async { self.drain() }
        }
    }

    /// Applies `write` inside the next group commit; `completion` runs on the writer's queue once
    /// that has committed (or failed). Sharing the transaction saves an fsync per delivered batch,
    /// and delivery never races ingest for SQLite's write lock nor waits for its turn.
    public func perform(_ write: QueueWrite, completion: @escaping @Sendable (Result<Void, QueueError>) -> Void) {
        let schedule = lock.withLock { () -> Bool in
            jobs.append(Job(write: write, completion: completion))
            if drainScheduled { return false }
            drainScheduled = true
            return true
        }
        if schedule {
            queue.async { self.drain() }
        }
    }

    /// Returns once everything submitted before the call is committed and its completion has run.
    public func waitUntilIdle() {
        while queue.sync(execute: { cutTarget > cutDone && !cutFailed }) {}
    }

    deinit {
        checkpointer.stopWatching(db)
    }

    /// `waitUntilIdle` for async callers: suspends instead of blocking a thread.
    public func idle() async {
        await withCheckedContinuation { continuation in queue.async { continuation.resume() } }
    }

    /// Whether the last group commit failed (SPEC 9.2: the daemon is then unhealthy).
    public var lastCommitFailed: Bool { lastCommitFailure.load(ordering: .relaxed) }

    /// Ends `commits`: nothing more will be announced.
    public func finish() {
        announce.finish()
        announceTraces.finish()
    }

    /// Commits one group, then queues itself again if more is waiting, so work queued on the
    /// writer's queue in the meantime gets its turn.
    private func drain() {
        let cutting = cutTarget > cutDone && !cutFailed
        let (group, taken, exports) = lock.withLock { () -> ([Submission], [Job], [TraceSubmission]) in
            let taken = (pending, jobs, traces)
            pending.removeAll(keepingCapacity: true)
            jobs.removeAll(keepingCapacity: true)
            if !taken.2.isEmpty { traces.removeAll(keepingCapacity: true) }
            if taken.0.isEmpty && taken.1.isEmpty && taken.2.isEmpty && !cutting && !logPruner.isDue {
                drainScheduled = false
            }
            return taken
        }
        if group.isEmpty && taken.isEmpty && exports.isEmpty {
            // Nothing waits: the writer's idle moment is the cut's.
            if cutting {
                cut()
                queue.async { self.drain() }
            } else if logPruner.isDue {
                logPruner.prune()
                queue.async { self.drain() }
            }
            return
        }
        var work = taken
        var traceOutcomes: [Outcome] = []
        let started = ContinuousClock.now
        let (outcomes, added) = commit(group, jobs: &work, traces: exports, traceOutcomes: &traceOutcomes)
        let elapsed = ContinuousClock.now - started
        commitDuration.recordNanoseconds(
            elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
        )
        if work.contains(where: { $0.write.isRemoval }) { recoverSpace(&work) }
        for job in work {
            if job.error == nil, let record = job.write.deliveryRecord {
                logPruner.added(record)
                tap.delivered(record, deadLetterID: nil)
            }
            if let error = job.error {
                job.completion(.failure(error))
            } else if case .markDelivered(_, let through, _, _) = job.write, through > cutDone {
                cutTarget = max(cutTarget, through)
                cutFailed = false
                cutWaiters.append((through, job.completion))
            } else {
                job.completion(.success(()))
            }
        }
        for (submission, result) in zip(group, outcomes) {
            submission.completion(result)
        }
        if !group.isEmpty { tap.committed(zip(group, outcomes).map { ($0.lines, $1) }) }
        for (submission, result) in zip(exports, traceOutcomes) {
            submission.completion(result)
        }
        if !added.isEmpty { announce.yield(Commit(events: added.count, lastID: lastEventID, added: added)) }
        if let lastTraceID {
            let stored = traceOutcomes.count { if case .accepted = $0 { true } else { false } }
            announceTraces.yield(Commit(events: stored, lastID: lastTraceID))
        }
        // Never idle under a steady load: cut between commits once far behind, so the delivered
        // rows kept (and `delivered`) stay bounded.
        if cutTarget - cutDone > Self.cutBacklog { cut() }
        logPruner.pruneIfBusyDue()
        queue.async { self.drain() }
    }

    /// Deletes the next chunk of delivered events from the head in a transaction of its own, so a
    /// commit that acknowledges lines never waits for a whole batch's deletion (a millisecond or
    /// more per thousand rows, which was the p99 of ack latency). A crash before the chunk commits
    /// loses nothing: the ids are in `delivered` until it does, and a restart deletes them.
    private func cut() {
        let target = cutTarget
        // No fsync of its own: the next commit's fsync covers it (the WAL is written in order), and
        // a cut lost in a crash loses nothing: its ids are still in `delivered`, which a restart cuts.
        try? db.execute("PRAGMA synchronous = OFF")
        defer { try? db.execute("PRAGMA synchronous = \(synchronous)") }
        do {
            cutDone = try db.transaction { () throws(QueueError) -> Int64 in
                cutChunk.bind(1, target)
                var events: Int64 = 0
                var bytes: Int64 = 0
                var last: Int64 = cutDone
                while try cutChunk.step() {
                    events += 1
                    last = max(last, cutChunk.int64(0))
                    bytes += cutChunk.int64(1)
                }
                cutChunk.reset()
                let through = events < Self.cutChunkRows ? target : last
                try db.execute("DELETE FROM delivered WHERE first <= \(through) AND last <= \(through)")
                try db.execute(
                    "UPDATE counters SET queued_events = max(0, queued_events - \(events)), "
                        + "queued_bytes = max(0, queued_bytes - \(bytes)), "
                        + "delivered_events = delivered_events + \(events) WHERE id = 1"
                )
                return through
            }
        } catch {
            cutChunk.reset()
            // Delivery sees its removals fail and asks again (sending nothing meanwhile); the rows
            // stay, recorded in `delivered`.
            cutFailed = true
            let waiters = cutWaiters
            cutWaiters.removeAll()
            for waiter in waiters { waiter.completion(.failure(error)) }
            return
        }
        let done = cutWaiters.filter { $0.through <= cutDone }
        cutWaiters.removeAll { $0.through <= cutDone }
        for waiter in done { waiter.completion(.success(())) }
    }

    /// Removing delivered events is the one write that must not fail for lack of space: on a
    /// full disk the reserve is freed and the WAL truncated, and the removal tried once more on
    /// its own; if that fails too, delivery tries again later and sends nothing meanwhile.
    private func recoverSpace(_ jobs: inout [Job]) {
        var diskFull = false
        for index in jobs.indices where jobs[index].write.isRemoval && jobs[index].error?.isTransient == true {
            diskFull = true
            if reserve?.release() == true {
                logger.warning("the disk is full: released the queue's space reserve to remove delivered events")
            }
            // A WAL keeps its largest size; truncating it is the other space a full disk can get back.
            truncateWAL()
            do {
                try jobs[index].write.apply(to: db)
                jobs[index].error = nil
            } catch {
                jobs[index].error = error
            }
        }
        if diskFull || reserve?.isHeld == false { truncateWAL() }
        reserve?.ensure()
    }

    private func truncateWAL() {
        try? db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    }

    private func commit(
        _ group: [Submission],
        jobs: inout [Job],
        traces: [TraceSubmission],
        traceOutcomes: inout [Outcome]
    ) -> (outcomes: [[Outcome]], added: [ScannedEvent]) {
        lastTraceID = nil
        var outcomes: [[Outcome]] = []
        outcomes.reserveCapacity(group.count)
        var added: [ScannedEvent] = []
        do {
            try db.transaction { () throws(QueueError) in
                // Jobs first: the counters read below then include what they changed.
                for index in jobs.indices {
                    do throws(QueueError) {
                        try jobs[index].write.apply(to: db)
                    } catch {
                        jobs[index].error = error
                    }
                }
                try readCounters.step()
                var events = readCounters.int64(0)
                var bytes = readCounters.int64(1)
                var dropped = readCounters.int64(2)
                // Exports are never dropped for events: what they hold is room events cannot take.
                let traceBytes = readCounters.int64(3)
                let room = Int64(maxBytes) - traceBytes
                readCounters.reset()
                for submission in group {
                    var lineOutcomes: [Outcome] = []
                    lineOutcomes.reserveCapacity(submission.lines.count)
                    for line in submission.lines {
                        let lineBytes = Int64(line.reduce(0) { $0 + $1.body.count })
                        if bytes + lineBytes > room {
                            guard whenFull == .dropOldest, lineBytes <= room else {
                                let queued = bytes + traceBytes
                                lineOutcomes.append(.queueFull(Self.fullMessage(bytes: queued, limit: maxBytes)))
                                continue
                            }
                            // Delivered events still queued go first, as delivered: they are not dropped.
                            let delivered = try Self.forgetDelivered(in: db)
                            events -= delivered.events
                            bytes -= delivered.bytes
                            if bytes + lineBytes > room {
                                let freed = try dropOldest(atLeast: bytes + lineBytes - room)
                                events -= freed.events
                                bytes -= freed.bytes
                                dropped += freed.events
                            }
                        }
                        var firstID: Int64 = 0
                        for event in line {
                            insert.bind(1, submission.receivedAt)
                            event.body.withUnsafeBytes { insert.bindText(2, $0) }
                            insert.bind(3, Int64(bitPattern: event.conversation))
                            insert.bind(4, Int64(event.body.count))
                            try insert.run()
                            if firstID == 0 { firstID = db.lastInsertRowID }
                            added.append(
                                ScannedEvent(id: db.lastInsertRowID, bytes: event.body.count, conversation: event.conversation)
                            )
                        }
                        events += Int64(line.count)
                        bytes += lineBytes
                        lineOutcomes.append(.accepted(line.count, firstID: firstID))
                    }
                    outcomes.append(lineOutcomes)
                }
                writeCounters.bind(1, events)
                writeCounters.bind(2, bytes)
                writeCounters.bind(3, dropped)
                try writeCounters.run()
                lastEventID = db.lastInsertRowID
                if !traces.isEmpty {
                    traceOutcomes = try insert(traces, eventBytes: bytes)
                }
            }
        } catch {
            lastCommitFailure.store(true, ordering: .relaxed)
            for index in jobs.indices where jobs[index].error == nil { jobs[index].error = error }
            let message = Self.failureMessage(error)
            let failed = group.map { submission in
                submission.lines.map { _ in Outcome.failed(message) }
            }
            traceOutcomes = traces.map { _ in .failed(message) }
            lastTraceID = nil
            return (failed, [])
        }
        lastCommitFailure.store(false, ordering: .relaxed)
        return (outcomes, added)
    }

    /// Inserts trace exports while the queue has room: events and traces share `queue.maxBytes`
    /// (one disk bound); a full queue refuses an export (the exporter retries on 503), never drops one.
    private func insert(_ traces: [TraceSubmission], eventBytes: Int64) throws(QueueError) -> [Outcome] {
        let (insertTrace, readTraceCounters, writeTraceCounters) = try traceStatements()
        try readTraceCounters.step()
        var exports = readTraceCounters.int64(0)
        var bytes = readTraceCounters.int64(1)
        readTraceCounters.reset()
        var outcomes: [Outcome] = []
        outcomes.reserveCapacity(traces.count)
        for trace in traces {
            let size = Int64(trace.export.body.count)
            if eventBytes + bytes + size > Int64(maxBytes) {
                outcomes.append(.queueFull(Self.fullMessage(bytes: eventBytes + bytes, limit: maxBytes)))
                continue
            }
            insertTrace.bind(1, trace.receivedAt)
            insertTrace.bind(2, trace.export.contentType)
            trace.export.body.withUnsafeBytes { insertTrace.bindBlob(3, $0) }
            try insertTrace.run()
            lastTraceID = db.lastInsertRowID
            exports += 1
            bytes += size
            outcomes.append(.accepted(1, firstID: lastTraceID ?? 0))
        }
        writeTraceCounters.bind(1, exports)
        writeTraceCounters.bind(2, bytes)
        try writeTraceCounters.run()
        return outcomes
    }

    /// Prepared on first use: a daemon that never receives a trace export never compiles them.
    private func traceStatements() throws(QueueError) -> (SQLiteStatement, SQLiteStatement, SQLiteStatement) {
        if let prepared = traceStatementCache { return prepared }
        let prepared = (
            try db.prepare("INSERT INTO traces (received_at, content_type, body) VALUES (?, ?, ?)"),
            try db.prepare("SELECT queued_exports, queued_bytes FROM trace_counters WHERE id = 1"),
            try db.prepare("UPDATE trace_counters SET queued_exports = ?, queued_bytes = ? WHERE id = 1")
        )
        traceStatementCache = prepared
        return prepared
    }

    /// Deletes the delivered events still queued and counts them delivered; returns what went,
    /// for the caller's queued counts (which it writes itself, or not at all at start-up).
    private static func forgetDelivered(in db: SQLiteConnection) throws(QueueError) -> (events: Int64, bytes: Int64) {
        let removed = try QueueWrite.purgeDelivered(in: db)
        if removed.events > 0 {
            try db.execute(
                "UPDATE counters SET queued_events = max(0, queued_events - \(removed.events)), "
                    + "queued_bytes = max(0, queued_bytes - \(removed.bytes)), "
                    + "delivered_events = delivered_events + \(removed.events) WHERE id = 1"
            )
        }
        return removed
    }

    /// Deletes the oldest events until at least `needed` bytes are free; returns what went.
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
            deleteThrough.bind(1, lastID)
            try deleteThrough.run()
        }
        return (freedEvents, freedBytes)
    }

    /// Rows deleted per cut transaction: about a millisecond of the writer's time.
    static let cutChunkRows: Int64 = 500
    /// Delivered ids not yet cut past which the writer cuts after every commit.
    static let cutBacklog: Int64 = 20_000

    /// The writer's page cache: about 10,000 events of ~400 bytes, the rows of a few batches per
    /// lane at the shipped settings, so most are still cached when they are cut.
    static let cacheKiB = 4096

    static func fullMessage(bytes: Int64, limit: Int) -> String {
        "queue full: \(bytes) bytes queued (queue.maxBytes \(limit)); retry later"
    }

    static func failureMessage(_ error: QueueError) -> String {
        "queue write failed: \(error); nothing of this line was queued, retry later"
    }
}
