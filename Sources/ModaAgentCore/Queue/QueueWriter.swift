import Atomics
import CoreMetrics
import Dispatch
import Logging
import NIOConcurrencyHelpers

/// The one owner of the queue's write connection: group commit. Connections hand over every line
/// they have read so far, delivery its removals, dead letters and state (`QueueWrite`); one
/// transaction (one fsync, `GroupCommit`) takes everything waiting, and only then are the
/// submitters told, so a reply is never sent for an event that is not durable. Each commit that
/// added events is announced on `commits`. Between commits it deletes delivered events from the
/// head in chunks (`HeadCutSchedule` decides when, `HeadCutter` deletes), lines first.
public final class QueueWriter: @unchecked Sendable {
    // @unchecked: `inbox` is touched only under `lock`; everything else that changes (`schedule`,
    // `lastStepCommitted`, and the connection with its statements inside `group`, `cutter`, `counters` and
    // `levelsReader`) only on `queue`, a serial queue. `levels` guards its value with a lock of its own;
    // the streams' continuations are thread-safe.
    public enum Outcome: Sendable, Equatable {
        /// `count` events stored with the consecutive ids `firstID`... (one writer, one line's
        /// inserts in a row: `GroupCommit` gives them in order above the queue's mark, never twice).
        case accepted(Int, firstID: Int64)
        /// Refused for lack of room; the client may retry.
        case queueFull(String)
        /// The transaction failed (disk full, I/O error); nothing of the line is queued; retryable.
        case failed(String)
    }

    /// Events added by one commit; ids up to `lastID` are in the queue.
    public struct Commit: Sendable, Equatable {
        public var events: Int
        public var lastID: Int64
        /// Events only: their bodies, which delivery sends from memory while it keeps up (`RecentBodies`).
        public var bodies = CommittedBodies()
        /// Events only: the events of the commit as delivery sorts them (id, size, conversation),
        /// which it takes instead of reading back the rows while it has caught up with the queue.
        public var added: [ScannedEvent] { bodies.scanned }

        /// Bodies compare by the events they hold (id, size, conversation), not byte by byte.
        public static func == (lhs: Self, rhs: Self) -> Bool {
            lhs.events == rhs.events && lhs.lastID == rhs.lastID && lhs.added == rhs.added
        }
    }

    struct Submission {
        var lines: PreparedLines
        var receivedAt: Double
        var completion: @Sendable ([Outcome]) -> Void
    }

    /// One OTLP trace export (docs/protocol.md), stored as received with its content type.
    struct TraceSubmission {
        var export: TraceExport
        var receivedAt: Double
        var completion: @Sendable (Outcome) -> Void
    }

    /// A write of delivery's that rides on the next group commit: its own savepoint, the group's
    /// transaction and fsync.
    struct Job {
        var write: QueueWrite
        var completion: @Sendable (Result<Void, QueueError>) -> Void
        var error: QueueError? = nil
    }

    /// What waits for the next commit; `scheduled` while a drain is queued or running.
    private struct Inbox {
        var submissions: [Submission] = []
        var jobs: [Job] = []
        var traces: [TraceSubmission] = []
        var scheduled = false

        var isEmpty: Bool { submissions.isEmpty && jobs.isEmpty && traces.isEmpty }
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
    private var inbox = Inbox()
    private let group: GroupCommit
    private let counters: QueueCounters
    private let cutter: HeadCutter
    private var schedule = HeadCutSchedule<@Sendable (Result<Void, QueueError>) -> Void>(
        chunkRows: QueueWriter.cutChunkRows,
        interleavedRows: QueueWriter.interleavedCutRows,
        interleavedCap: QueueWriter.interleavedCutCap,
        backlog: QueueWriter.cutBacklog
    )
    /// The events the writer's last step added when it was a commit (a chunk may follow it when far behind).
    private var lastStepCommitted: Int64?
    private let reserve: DiskReserve?
    private let logger: Logger
    private let commitDuration = CoreMetrics.Timer(label: "moda_agent_commit_duration_seconds")
    private let lastCommitFailure = ManagedAtomic<Bool>(false)
    let checkpointer: Checkpointer
    /// The newest id dropped for room (`queue.whenFull: dropOldest`), for delivery's bodies kept in memory.
    public let droppedThrough: ManagedAtomic<Int64>
    /// How full the queue is, published after every transaction for monitors that must not wait.
    public let levels: PublishedValue<QueueLevels>
    private let levelsReader: QueueLevelsReader
    /// What `modactl tail` follows (docs/tracing.md); every part of the pipeline reaches it here.
    public let tap = FlowTap()
    private let logPruner: DeliveryLogPruner

    /// `reserve` is the space set aside for removing delivered events on a full disk.
    init(
        db: SQLiteConnection,
        config: AgentConfig.Queue,
        reserve: DiskReserve? = nil,
        trace: AgentConfig.Trace = AgentConfig.Trace(),
        logger: Logger = Logger(label: "moda-agent")
    ) throws(QueueError) {
        self.db = db
        self.reserve = reserve
        self.logger = logger
        (commits, announce) = AsyncStream.makeStream(of: Commit.self)
        (traceCommits, announceTraces) = AsyncStream.makeStream(of: Commit.self)
        // Twice what every other connection gets, for the pages a commit and the next cut share
        // (`cacheKiB`; SQLite fills the cache only as pages are used, so an idle daemon holds little).
        try db.execute("PRAGMA cache_size = -\(Self.cacheKiB)")
        // Delivery's writes each run in a savepoint (`QueueWrite.apply`), which copies every page it
        // changes into a sub-journal first: in memory, that copy is a memcpy; in a temporary file
        // it was the writer's largest write, bigger than the WAL itself.
        try db.execute("PRAGMA temp_store = MEMORY")
        checkpointer = try Checkpointer(path: db.path)
        checkpointer.watch(db)
        let counters = try QueueCounters(db)
        self.counters = counters
        // Delivered before the last stop but not yet cut from the head: never to be sent again.
        try db.transaction { () throws(QueueError) in
            _ = try GroupCommit.purgeDelivered(in: db, counters: counters)
        }
        let dropped = ManagedAtomic<Int64>(0)
        droppedThrough = dropped
        group = try GroupCommit(
            db: db,
            counters: counters,
            room: RoomPolicy(maxBytes: Int64(config.maxBytes), whenFull: config.whenFull),
            droppedThrough: dropped
        )
        cutter = try HeadCutter(db: db, counters: counters, durability: config.durability)
        levelsReader = try QueueLevelsReader(db: db)
        levels = PublishedValue(try levelsReader.read())
        logPruner = try DeliveryLogPruner(
            db: db,
            settings: trace,
            synchronous: config.durability == .full ? "FULL" : "NORMAL",
            logger: logger
        )
    }

    /// Hands over the lines of one read; `completion` gets one outcome per line, in order, on the
    /// writer's queue. One call per read burst, not per line, keeps lock traffic flat.
    public func submit(
        lines: PreparedLines,
        receivedAt: Double,
        completion: @escaping @Sendable ([Outcome]) -> Void
    ) {
        enqueue { $0.submissions.append(Submission(lines: lines, receivedAt: receivedAt, completion: completion)) }
    }

    /// Hands over one trace export; `completion` runs on the writer's queue once it is committed
    /// (or refused). It rides on the same group commit and fsync as events.
    public func submit(trace: TraceExport, receivedAt: Double, completion: @escaping @Sendable (Outcome) -> Void) {
        enqueue { $0.traces.append(TraceSubmission(export: trace, receivedAt: receivedAt, completion: completion)) }
    }

    /// Applies `write` inside the next group commit; `completion` runs on the writer's queue once
    /// that has committed (or failed); a `markDelivered` once the head is cut past its `through`.
    /// Sharing the transaction saves an fsync per delivered batch, and delivery never races ingest
    /// for SQLite's write lock nor waits for its turn.
    public func perform(_ write: QueueWrite, completion: @escaping @Sendable (Result<Void, QueueError>) -> Void) {
        enqueue { $0.jobs.append(Job(write: write, completion: completion)) }
    }

    private func enqueue(_ add: (inout Inbox) -> Void) {
        let wake = lock.withLock { () -> Bool in
            add(&inbox)
            if inbox.scheduled { return false }
            inbox.scheduled = true
            return true
        }
        if wake { queue.async { self.drain() } }
    }

    /// Returns once everything submitted before the call is committed and the head is cut as far
    /// as delivery has asked (or cutting failed).
    public func waitUntilIdle() {
        while queue.sync(execute: { schedule.isCutting }) {}
    }

    deinit {
        checkpointer.stopWatching(db)
    }

    /// Publishes `levels` again, for changes made by another process (`modactl dead-letters replay`).
    public func refreshLevels() {
        queue.async { self.publishLevels() }
    }

    /// Runs `body` on the writer's queue between two transactions: an answer proves the writer is
    /// not stuck, without waiting for anything it has queued.
    public func ping(_ body: @escaping @Sendable () -> Void) {
        queue.async(execute: body)
    }

    /// On `queue` only, after a transaction and before anyone hears of it: an acknowledged line is
    /// already in the levels a monitor reads.
    private func publishLevels() {
        if let current = try? levelsReader.read() { levels.publish(current) }
    }

    /// Suspends until everything submitted before the call is committed and answered.
    public func idle() async {
        await withCheckedContinuation { continuation in queue.async { continuation.resume() } }
    }

    /// Whether the last group commit failed (the daemon is then unhealthy: docs/monitoring.md).
    public var lastCommitFailed: Bool { lastCommitFailure.load(ordering: .relaxed) }

    /// Ends `commits`: nothing more will be announced.
    public func finish() {
        announce.finish()
        announceTraces.finish()
    }

    /// One step of the writer (a commit or a chunk), then queues itself again while there is work,
    /// so work queued on the writer's queue in the meantime gets its turn.
    private func drain() {
        enum Step {
            case commit(Inbox)
            case cut(rows: Int64)
            case prune
        }
        let step = lock.withLock { () -> Step? in
            switch schedule.next(inboxEmpty: inbox.isEmpty, committed: lastStepCommitted) {
            case .idle:
                // Nothing else waits: the writer's idle moment is the delivery log's pruning too.
                if logPruner.isDue { return .prune }
                inbox.scheduled = false
                return nil
            case .cut(_, let rows):
                return .cut(rows: rows)
            case .commit:
                defer { inbox = Inbox(scheduled: true) }
                return .commit(inbox)
            }
        }
        switch step {
        case nil: return
        case .cut(let rows):
            cut(rows: rows)
            lastStepCommitted = nil
        case .prune:
            logPruner.prune()
            lastStepCommitted = nil
        case .commit(let taken):
            lastStepCommitted = commit(taken)
        }
        queue.async { self.drain() }
    }

    private func commit(_ taken: Inbox) -> Int64 {
        var jobs = taken.jobs
        let started = ContinuousClock.now
        let result = group.run(taken.submissions, jobs: &jobs, traces: taken.traces)
        publishLevels()
        commitDuration.recordNanoseconds(Self.nanoseconds(ContinuousClock.now - started))
        lastCommitFailure.store(result.failed != nil, ordering: .relaxed)
        if jobs.contains(where: { $0.write.isRemoval }) { recoverSpace(&jobs) }
        for job in jobs {
            if job.error == nil, let record = job.write.deliveryRecord {
                logPruner.added(record)
                tap.delivered(record, deadLetterID: nil)
            }
            if let error = job.error {
                job.completion(.failure(error))
            } else if case .markDelivered(_, let through, _, _) = job.write {
                schedule.delivered(through: through, waiter: job.completion)?(.success(()))
            } else {
                job.completion(.success(()))
            }
        }
        for (submission, outcomes) in zip(taken.submissions, result.outcomes) {
            submission.completion(outcomes)
        }
        if !taken.submissions.isEmpty {
            tap.committed(zip(taken.submissions, result.outcomes).map { ($0.lines, $1) })
        }
        for (submission, outcome) in zip(taken.traces, result.traceOutcomes) {
            submission.completion(outcome)
        }
        if !result.bodies.isEmpty {
            announce.yield(
                Commit(events: result.bodies.count, lastID: result.lastEventID, bodies: result.bodies)
            )
        }
        if let lastTraceID = result.lastTraceID {
            let stored = result.traceOutcomes.count { if case .accepted = $0 { true } else { false } }
            announceTraces.yield(Commit(events: stored, lastID: lastTraceID))
        }
        logPruner.pruneIfBusyDue()
        return Int64(result.bodies.count)
    }

    /// Deletes the next chunk of delivered events; on failure delivery sees its removals fail and
    /// asks again (sending nothing meanwhile); the rows stay, recorded in `delivered`.
    private func cut(rows: Int64) {
        do {
            let through = try cutter.cut(through: schedule.target, rows: rows, after: schedule.done)
            publishLevels()
            for waiter in schedule.cut(through: through) { waiter(.success(())) }
        } catch {
            for waiter in schedule.cutFailed() { waiter(.failure(error)) }
        }
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
                try jobs[index].write.apply(to: db, counters: counters)
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

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    }

    /// Rows deleted per cut transaction while nothing else waits: about a millisecond of the writer's time.
    static let cutChunkRows: Int64 = 1000
    /// Rows deleted after a commit while lines keep coming and the cut is far behind: as many as
    /// the commit added, at least `interleavedCutRows` and at most `interleavedCutCap`. A fixed 200
    /// let a saturating load (commits of ~3,000 lines over 4 connections) outrun the cut: delivered
    /// rows piled up, the file grew by all of them and the checkpoints wrote new blocks instead of
    /// pages freed and reused (docs/performance.md). CPU per event end to end, one run: 200, 1,000
    /// and 4,000 rows 4.5, 3.7 and 3.7 µs (4,000: one run of three with an ack p99 of 7 ms at 10k/s);
    /// another, five runs each: 1,000 → 2,000 rows 3.8 → 3.4 µs. 2,000 rows are 1-2 ms of the writer.
    static let interleavedCutRows: Int64 = 200
    static let interleavedCutCap: Int64 = 2000
    /// Delivered ids not yet cut past which the writer cuts after every commit.
    static let cutBacklog: Int64 = 20_000

    /// The writer's page cache. 4 MiB held the last ~10,000 events so their deletion would not read
    /// them back; with the cut keeping pace that saved no CPU it could measure (end to end, drain,
    /// replay and outage within noise at 4, 2, 1 and 0.5 MiB) and only raised every backlog's peak
    /// RSS (1 MiB: replay 25.9 → 24.1 MiB, outage during the 1M run 32.0 → 29.6, drain 27.6 → 26.1).
    static let cacheKiB = 1024

    static func fullMessage(bytes: Int64, limit: Int64) -> String {
        "queue full: \(bytes) bytes queued (queue.maxBytes \(limit)); retry later"
    }

    static func failureMessage(_ error: QueueError) -> String {
        "queue write failed: \(error); nothing of this line was queued, retry later"
    }
}
