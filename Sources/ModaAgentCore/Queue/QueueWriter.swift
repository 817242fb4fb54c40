import Dispatch
import NIOConcurrencyHelpers

/// The single writer of ingested events: group commit. Connections hand over every line they have
/// read so far; one transaction (one fsync) takes everything waiting, and only then are the
/// submitters told, so a reply is never sent for an event that is not durable.
public final class QueueWriter: @unchecked Sendable {
    // @unchecked: `db` and the prepared statements are touched only on `queue` (a serial queue);
    // `pending` and `drainScheduled` only under `lock`.
    public enum Outcome: Sendable, Equatable {
        case accepted(Int)
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

    /// Work of another part of the daemon (the flusher's deletes, dead letters, state) that rides
    /// on the next group commit: its own savepoint, the group's transaction and fsync.
    private struct Job {
        var work: (QueueStore) throws(QueueError) -> Void
        var result: JobResult
    }

    // @unchecked: `error` is written on the writer's queue before `done` is signalled, and read
    // by the waiting caller only after.
    private final class JobResult: @unchecked Sendable {
        let done = DispatchSemaphore(value: 0)
        var error: QueueError?
    }

    private let db: SQLiteConnection
    private let queue = DispatchQueue(label: "moda-agent.queue-writer")
    private let lock = NIOLock()
    private var pending: [Submission] = []
    private var jobs: [Job] = []
    /// The writer's connection seen as a queue store, for jobs.
    private let store: QueueStore
    private var drainScheduled = false
    private let maxBytes: Int
    private let whenFull: AgentConfig.WhenFull
    private let insert: SQLiteStatement
    private let readCounters: SQLiteStatement
    private let writeCounters: SQLiteStatement
    private let oldest: SQLiteStatement
    private let deleteThrough: SQLiteStatement
    private let onCommit: @Sendable (Int) -> Void

    /// `onCommit` runs on the writer's queue after each commit with the number of events added,
    /// so the flusher can wake without polling.
    init(
        db: SQLiteConnection,
        config: AgentConfig.Queue,
        onCommit: @escaping @Sendable (Int) -> Void
    ) throws(QueueError) {
        self.db = db
        self.maxBytes = config.maxBytes
        self.whenFull = config.whenFull
        self.onCommit = onCommit
        insert = try db.prepare("INSERT INTO events (received_at, body) VALUES (?, ?)")
        readCounters = try db.prepare("SELECT queued_events, queued_bytes, dropped_events FROM counters WHERE id = 1")
        writeCounters = try db.prepare(
            "UPDATE counters SET queued_events = ?, queued_bytes = ?, dropped_events = ? WHERE id = 1"
        )
        oldest = try db.prepare("SELECT id, length(CAST(body AS BLOB)) FROM events ORDER BY id")
        deleteThrough = try db.prepare("DELETE FROM events WHERE id <= ?")
        store = try QueueStore(connection: db)
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

    /// Runs `work` inside the next group commit and returns when that has committed. Sharing the
    /// transaction saves an fsync per delivered batch, and the flusher never races ingest for
    /// SQLite's write lock. Must not be called from the writer's own queue.
    public func run(_ work: @escaping (QueueStore) throws(QueueError) -> Void) throws(QueueError) {
        let result = JobResult()
        let schedule = lock.withLock { () -> Bool in
            jobs.append(Job(work: work, result: result))
            if drainScheduled { return false }
            drainScheduled = true
            return true
        }
        if schedule {
            queue.async { self.drain() }
        }
        result.done.wait()
        if let error = result.error { throw error }
    }

    /// Returns once everything submitted before the call is committed and its completion has run.
    public func waitUntilIdle() {
        queue.sync {}
    }

    /// Runs `body` on the writer's queue, between two group commits: the other writers of this
    /// process (the flusher's deletes, dead letters and state) take turns with ingest here rather
    /// than race it for SQLite's write lock, which a writer committing back to back would win
    /// every time until their busy timeout ran out.
    public func serialized<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        let result: Result<T, E> = queue.sync { Result { () throws(E) -> T in try body() } }
        return try result.get()
    }

    /// Commits one group, then queues itself again if more is waiting, so work handed to
    /// `serialized` in the meantime gets its turn.
    private func drain() {
        let (group, work) = lock.withLock { () -> ([Submission], [Job]) in
            let taken = (pending, jobs)
            pending.removeAll(keepingCapacity: true)
            jobs.removeAll(keepingCapacity: true)
            if taken.0.isEmpty && taken.1.isEmpty { drainScheduled = false }
            return taken
        }
        if group.isEmpty && work.isEmpty { return }
        let (outcomes, added) = commit(group, jobs: work)
        for job in work { job.result.done.signal() }
        for (submission, result) in zip(group, outcomes) {
            submission.completion(result)
        }
        if added > 0 { onCommit(added) }
        queue.async { self.drain() }
    }

    private func commit(_ group: [Submission], jobs: [Job]) -> (outcomes: [[Outcome]], added: Int) {
        var outcomes: [[Outcome]] = []
        outcomes.reserveCapacity(group.count)
        var added = 0
        do {
            try db.transaction { () throws(QueueError) in
                // Jobs first: the counters read below then include what they changed.
                for job in jobs {
                    do throws(QueueError) {
                        try job.work(store)
                    } catch {
                        job.result.error = error
                    }
                }
                try readCounters.step()
                var events = readCounters.int64(0)
                var bytes = readCounters.int64(1)
                var dropped = readCounters.int64(2)
                readCounters.reset()
                for submission in group {
                    var lineOutcomes: [Outcome] = []
                    lineOutcomes.reserveCapacity(submission.lines.count)
                    for line in submission.lines {
                        let lineBytes = Int64(line.reduce(0) { $0 + $1.body.count })
                        if bytes + lineBytes > Int64(maxBytes) {
                            guard whenFull == .dropOldest, lineBytes <= Int64(maxBytes) else {
                                lineOutcomes.append(.queueFull(Self.fullMessage(bytes: bytes, limit: maxBytes)))
                                continue
                            }
                            let freed = try dropOldest(atLeast: bytes + lineBytes - Int64(maxBytes))
                            events -= freed.events
                            bytes -= freed.bytes
                            dropped += freed.events
                        }
                        for event in line {
                            insert.bind(1, submission.receivedAt)
                            event.body.withUnsafeBytes { insert.bindText(2, $0) }
                            try insert.run()
                        }
                        events += Int64(line.count)
                        bytes += lineBytes
                        added += line.count
                        lineOutcomes.append(.accepted(line.count))
                    }
                    outcomes.append(lineOutcomes)
                }
                writeCounters.bind(1, events)
                writeCounters.bind(2, bytes)
                writeCounters.bind(3, dropped)
                try writeCounters.run()
            }
        } catch {
            for job in jobs where job.result.error == nil { job.result.error = error }
            let message = Self.failureMessage(error)
            let failed = group.map { submission in
                submission.lines.map { _ in Outcome.failed(message) }
            }
            return (failed, 0)
        }
        return (outcomes, added)
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

    static func fullMessage(bytes: Int64, limit: Int) -> String {
        "queue full: \(bytes) bytes queued (queue.maxBytes \(limit)); retry later"
    }

    static func failureMessage(_ error: QueueError) -> String {
        "queue write failed: \(error); nothing of this line was queued, retry later"
    }
}
