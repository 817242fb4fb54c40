#if canImport(Glibc)
import Glibc
#endif

/// What the daemon does with a queue file SQLite calls corrupt or "not a database": it moves the
/// file (and its WAL and shared-memory files) aside under a dated name and starts a fresh queue.
/// Refusing to start would only turn one bad file into a crash loop and stop ingest; the old
/// file is kept whole, so events in it can still be recovered with `sqlite3 FILE .recover`.
public enum DamagedQueue {
    /// Renames the damaged files; returns the new path of the database file.
    public static func setAside(path: String, now: Double = Timestamp.now()) throws(QueueError) -> String {
        let stamp = Timestamp.iso8601(now).filter { $0 != ":" && $0 != "." }
        let target = "\(path).damaged-\(stamp)"
        for suffix in ["", "-wal", "-shm"] where access(path + suffix, F_OK) == 0 {
            if rename(path + suffix, target + suffix) != 0 {
                throw .cannotOpen(
                    path: path,
                    reason: "it is damaged and could not be moved aside: \(String(cString: strerror(errno)))"
                )
            }
        }
        return target
    }
}
