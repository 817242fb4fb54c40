#if canImport(Glibc)
import Glibc
#endif

/// Everything `modactl status` shows, read from the database and the lock file, so it works
/// whether or not the daemon runs.
public struct StatusReport: Sendable {
    public struct Daemon: Sendable {
        public var running: Bool
        public var pid: Int32?
        public var version: String?
        public var uptimeSeconds: Double?
    }

    /// The trace exports' queue (docs/protocol.md), beside the events'.
    public struct Traces: Sendable {
        public var counters: QueueStore.TraceCounters
        public var oldestAgeSeconds: Double?
        public var deadLetters: Int
        public var delivery: DeliveryStatus
        /// Whether the text shows a line for it: receivers on, or anything ever in it.
        public var shown: Bool
    }

    public var daemon: Daemon
    public var traces: Traces
    public var queue: QueueStore.Counters
    public var oldestAgeSeconds: Double?
    public var deadLetters: Int
    public var delivery: DeliveryStatus
    /// The running daemon's last snapshot; with none (daemon down, or nothing recorded yet),
    /// nothing buffered and the configured budget.
    public var memory: MemoryBudget.Snapshot
    public var queuePath: String
    /// `delivery.maxInFlight`: the ceiling of the adaptive concurrency in `delivery`.
    public var maxInFlight: Int
    /// What redaction is configured to find and what the running daemon found (docs/redaction.md).
    public var redaction = RedactionStatus()

    public struct RedactionStatus: Sendable {
        /// The configured detectors and pattern names; empty when redaction is off.
        public var rules: [String] = []
        public var redactedEvents = 0
        public var findings: [String: Int] = [:]

        static func gather(config: AgentConfig, holder: Int32?) -> RedactionStatus {
            var status = RedactionStatus()
            status.rules = config.redaction.detectors.map(\.rawValue) + config.redaction.patterns.map(\.name)
            if let holder, let counts = RedactionCountsFile.read(queuePath: config.queue.path, pid: holder) {
                status.redactedEvents = counts.redactedEvents
                status.findings = counts.findings
            }
            return status
        }
    }

    public static func gather(config: AgentConfig, now: Double = Timestamp.now()) throws(QueueError) -> StatusReport {
        let holder = QueueLock.holder(path: QueueLock.lockPath(forQueue: config.queue.path))
        guard access(config.queue.path, F_OK) == 0 else {
            return StatusReport(
                daemon: Daemon(running: holder != nil, pid: holder, version: nil, uptimeSeconds: nil),
                traces: Traces(
                    counters: .init(queuedExports: 0, queuedBytes: 0, deliveredExports: 0),
                    oldestAgeSeconds: nil,
                    deadLetters: 0,
                    delivery: DeliveryStatus(),
                    shown: config.http.listen != nil
                ),
                queue: .init(queuedEvents: 0, queuedBytes: 0, droppedEvents: 0, deliveredEvents: 0),
                oldestAgeSeconds: nil,
                deadLetters: 0,
                delivery: DeliveryStatus(),
                memory: .idle(config),
                queuePath: config.queue.path,
                maxInFlight: config.delivery.maxInFlight
            )
        }
        let store = try QueueStore(operatorPath: config.queue.path, access: .readOnly)
        defer { store.close() }
        var daemon = Daemon(running: holder != nil, pid: holder, version: nil, uptimeSeconds: nil)
        let record = try store.db.prepare("SELECT pid, version, started_at FROM daemon WHERE id = 1")
        if holder != nil, try record.step(), Int32(record.int64(0)) == holder {
            daemon.version = record.text(1)
            daemon.uptimeSeconds = max(0, now - record.double(2))
        }
        let counters = try store.counters()
        let oldest = try store.oldestReceivedAt()
        let dead = try store.deadLetterCount()
        var delivery = try store.readStatus()
        var traceDelivery = try store.readTraceStatus()
        if holder == nil {
            // Nobody is retrying while the daemon is down; keep the state word but no next attempt.
            delivery.nextAttemptAt = nil
            traceDelivery.nextAttemptAt = nil
        }
        let traceCounters = try store.traceCounters()
        let deadTraces = try store.deadTraceCount()
        let traces = Traces(
            counters: traceCounters,
            oldestAgeSeconds: try store.oldestTraceReceivedAt().map { max(0, now - $0) },
            deadLetters: deadTraces,
            delivery: traceDelivery,
            shown: config.http.listen != nil || traceCounters.queuedExports > 0 || traceCounters.deliveredExports > 0
                || deadTraces > 0
        )
        var memory = MemoryBudget.Snapshot.idle(config)
        if let holder, let recorded = try store.memorySnapshot(pid: holder) { memory = recorded }
        var report = StatusReport(
            daemon: daemon,
            traces: traces,
            queue: counters,
            oldestAgeSeconds: oldest.map { max(0, now - $0) },
            deadLetters: dead,
            delivery: delivery,
            memory: memory,
            queuePath: config.queue.path,
            maxInFlight: config.delivery.maxInFlight
        )
        report.redaction = .gather(config: config, holder: holder)
        return report
    }
}

extension MemoryBudget.Snapshot {
    static func idle(_ config: AgentConfig) -> Self {
        .init(bufferedBytes: 0, maxBufferedBytes: config.memory.maxBufferedBytes, readPauses: 0)
    }
}
