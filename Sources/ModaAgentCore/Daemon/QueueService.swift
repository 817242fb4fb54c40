import Logging
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// The queue: its lock and its writer, the one owner of the write connection. Up first, down
/// last, so every line acknowledged and every removal of a delivered batch is committed before
/// the process ends.
struct QueueService: DaemonService {
    /// Held for the daemon's lifetime: a second daemon on the same queue refuses to start.
    let lock: QueueLock
    let writer: QueueWriter

    /// Creates the folder (private) and the database when missing, warns about queue files others
    /// can read, takes the lock, moves a damaged file aside (loudly) and sets the disk reserve aside.
    static func open(config: AgentConfig, logger: Logger) throws(QueueError) -> QueueService {
        try QueueFiles.prepareFolder(queuePath: config.queue.path)
        for warning in QueueFiles.exposedFiles(queuePath: config.queue.path) {
            logger.warning("\(warning)")
        }
        let lock = try QueueLock(queuePath: config.queue.path)
        let db = try openDatabase(config: config, logger: logger)
        try DaemonRecord.write(db, pid: getpid(), version: AgentVersion.current, startedAt: Timestamp.now())
        let reserve = DiskReserve(queuePath: config.queue.path)
        if !reserve.ensure() {
            logger.warning("cannot set aside the disk reserve \(reserve.path); a full disk may stall deletions")
        }
        return QueueService(
            lock: lock,
            writer: try QueueWriter(db: db, config: config.queue, reserve: reserve, trace: config.trace, logger: logger)
        )
    }

    func run(up: @escaping @Sendable () -> Void) async throws {
        up()
        try? await gracefulShutdown()
        await writer.idle()
        writer.finish()
    }

    private static func openDatabase(config: AgentConfig, logger: Logger) throws(QueueError) -> SQLiteConnection {
        do {
            return try QueueDatabase.open(path: config.queue.path, durability: config.queue.durability, create: true)
        } catch {
            guard case .damaged(_, let reason) = error else { throw error }
            let aside = try DamagedQueue.setAside(path: config.queue.path)
            logger.critical(
                """
                the queue database was damaged (\(reason)); it was moved to \(aside) and a new queue was started. \
                Events in the old file can be recovered with: sqlite3 \(aside) .recover
                """,
                metadata: ["damaged_file": "\(aside)"]
            )
            return try QueueDatabase.open(path: config.queue.path, durability: config.queue.durability, create: true)
        }
    }
}
