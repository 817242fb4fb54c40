import Atomics
import CSQLite
import Dispatch

/// Copies the WAL back into the database file on a connection and thread of its own, so the
/// queue's writer does not: SQLite's automatic checkpoint runs inside the commit that takes the
/// WAL past 1,000 pages, and every acknowledgement waiting on that commit waited for it too (read
/// 4 MB of WAL, write it to the database, fsync it: several ms, several times a second under load,
/// which was the p99 of ack latency). A passive checkpoint beside the writer blocks neither it nor
/// the readers; SQLite starts the WAL over at the next commit once it is all copied.
final class Checkpointer: @unchecked Sendable {
    // @unchecked: `db` is used only on `queue`; `scheduled` is atomic.

    /// WAL bytes that start a background checkpoint: SQLite's own automatic threshold, 1,000 pages, of
    /// the 16 KiB pages of a new queue (`QueueDatabase`). Fewer, larger checkpoints copy a page rewritten
    /// by many commits once: at 4 MB (1,000 pages of 4 KiB) CPU per event end to end was 5.1 µs, at
    /// 16 MB 4.6 µs (docs/performance.md). In bytes, so an older 4 KiB-page queue checkpoints as seldom.
    static let bytes = 1000 * 16384
    /// WAL bytes past which the writer checkpoints itself after a commit, as SQLite would: the
    /// background one cannot keep up (or cannot run), and the WAL must not grow without end. The cap
    /// queues always had (16,000 pages of 4 KiB).
    static let backstopBytes = 16_000 * 4096

    /// The two thresholds in this queue's pages, which is what SQLite's hook reports.
    let pages: Int32
    let backstopPages: Int32

    /// Passes of one checkpoint at most, each copying what the writer committed during the last.
    static let passes = 8

    private let db: SQLiteConnection
    /// Utility: on Linux, Dispatch runs it at nice 2, so on a busy machine the writer and the
    /// connections (nice 0) get the CPU first (docs/performance.md).
    private let queue = DispatchQueue(label: "moda-agent.checkpoint", qos: .utility)
    private let scheduled = ManagedAtomic<Bool>(false)

    init(path: String) throws(QueueError) {
        db = try SQLiteConnection(path: path)
        // A connection learns the file is in WAL mode when it first reads it; until then a
        // checkpoint does nothing.
        guard try db.scalarText("PRAGMA journal_mode")?.lowercased() == "wal" else {
            throw .cannotOpen(path: path, reason: "the queue is not in WAL mode")
        }
        let pageSize = max(512, Int(try db.scalarInt("PRAGMA page_size") ?? 4096))
        pages = Int32(max(1, Self.bytes / pageSize))
        backstopPages = Int32(max(1, Self.backstopBytes / pageSize))
    }

    /// Replaces the writer connection's automatic checkpoint with this one: SQLite calls the hook
    /// after each commit with the WAL's size in pages. `stopWatching` before this is released.
    func watch(_ writer: SQLiteConnection) {
        sqlite3_wal_hook(
            writer.handle,
            { context, handle, _, pages in
                guard let context else { return SQLITE_OK }
                let checkpointer = Unmanaged<Checkpointer>.fromOpaque(context).takeUnretainedValue()
                if pages >= checkpointer.backstopPages {
                    sqlite3_wal_checkpoint_v2(handle, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
                } else if pages >= checkpointer.pages {
                    checkpointer.schedule()
                }
                return SQLITE_OK
            },
            Unmanaged.passUnretained(self).toOpaque()
        )
    }

    func stopWatching(_ writer: SQLiteConnection) {
        sqlite3_wal_hook(writer.handle, nil, nil)
    }

    /// Returns once a checkpoint asked for before the call has run.
    func waitUntilIdle() {
        queue.sync {}
    }

    private func schedule() {
        guard !scheduled.exchange(true, ordering: .acquiringAndReleasing) else { return }
        queue.async {
            self.scheduled.store(false, ordering: .releasing)
            // Passive: copies what no reader still needs and never waits. SQLite starts the WAL over
            // only once a checkpoint has copied all of it, and under a steady load commits land
            // during every pass: each further pass copies just those, so a few passes catch up
            // (otherwise the WAL only grows, and a growing file makes every commit's fsync dearer).
            for _ in 0..<Self.passes {
                var frames: Int32 = 0
                var copied: Int32 = 0
                let rc = sqlite3_wal_checkpoint_v2(self.db.handle, nil, SQLITE_CHECKPOINT_PASSIVE, &frames, &copied)
                if rc != SQLITE_OK || copied >= frames { break }
            }
        }
    }
}
