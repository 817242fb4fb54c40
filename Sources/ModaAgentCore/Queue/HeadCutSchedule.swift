/// When the writer deletes delivered events from the queue's head, and whose `markDelivered` is
/// then answered: a value, no SQL. `QueueWriter` asks `next` each time it is free and carries out
/// the answer; `HeadCutter` runs a chunk.
///
/// Deletion runs in chunks, each a transaction of its own, between group commits, and lines
/// waiting always go first: `chunkRows` at a time while nothing else waits, and only when the
/// delivered rows not yet cut pile up past `backlog` does a chunk follow each commit, as many rows
/// as that commit added (`interleavedRows` at least, `interleavedCap` at most), so the cut keeps
/// pace with a load that never leaves the writer idle, while lines a few at a time (each commit
/// small) wait for at most a small chunk.
/// Measured while a 300k backlog drained beside 2k lines/s: chunks of 500 rows after every commit
/// took 2-5 ms each on a busy disk, the ack p99 was 34 ms (docs/performance.md).
///
/// `Waiter` is whatever answers a `markDelivered` (a completion in the writer, a number in tests):
/// each is released once the cut has passed its `through`, so delivery learns its batch left the
/// queue only when it has.
struct HeadCutSchedule<Waiter> {
    let chunkRows: Int64
    let interleavedRows: Int64
    let interleavedCap: Int64
    let backlog: Int64
    /// Delivered events up to `target` may be deleted; up to `done` they are.
    private(set) var target: Int64 = 0
    private(set) var done: Int64 = 0
    /// The last chunk failed; nothing is cut until delivery asks again (it sends nothing meanwhile).
    private(set) var failed = false
    private var waiters: [(through: Int64, waiter: Waiter)] = []

    init(chunkRows: Int64, interleavedRows: Int64, interleavedCap: Int64, backlog: Int64) {
        self.chunkRows = chunkRows
        self.interleavedRows = interleavedRows
        self.interleavedCap = interleavedCap
        self.backlog = backlog
    }

    enum Next: Equatable {
        /// Commit what waits (lines, exports, delivery's writes).
        case commit
        /// Delete the next chunk: up to `rows` rows with ids up to `through`.
        case cut(through: Int64, rows: Int64)
        case idle
    }

    var isCutting: Bool { target > done && !failed }

    /// What the writer does next. `inboxEmpty`: nothing waits to be committed; `committed`: the
    /// events the writer's last step added, when that step was a commit (nil after a chunk).
    func next(inboxEmpty: Bool, committed: Int64?) -> Next {
        if !isCutting { return inboxEmpty ? .idle : .commit }
        if inboxEmpty { return .cut(through: target, rows: chunkRows) }
        // Lines wait: they go first, except for one chunk after each commit once far behind, as
        // many rows as that commit added (at least `interleavedRows`, at most `interleavedCap`).
        if let committed, target - done > backlog {
            return .cut(through: target, rows: min(max(committed, interleavedRows), interleavedCap))
        }
        return .commit
    }

    /// A `markDelivered` through `through` committed. Returns the waiter back when there is
    /// nothing to cut for it (answer it now); otherwise keeps it until the cut passes `through`.
    mutating func delivered(through: Int64, waiter: Waiter) -> Waiter? {
        guard through > done else { return waiter }
        target = max(target, through)
        failed = false
        waiters.append((through, waiter))
        return nil
    }

    /// A chunk committed: every id up to `through` is gone. Returns the waiters it answers.
    mutating func cut(through: Int64) -> [Waiter] {
        done = max(done, through)
        var released: [Waiter] = []
        waiters.removeAll { entry in
            guard entry.through <= done else { return false }
            released.append(entry.waiter)
            return true
        }
        return released
    }

    /// A chunk failed: every waiter hears it (delivery asks again later), and cutting stops until then.
    mutating func cutFailed() -> [Waiter] {
        failed = true
        defer { waiters.removeAll() }
        return waiters.map(\.waiter)
    }
}
