import CoreMetrics
import NIOConcurrencyHelpers
import Prometheus

/// The gauges of docs/monitoring.md and the `/health` decision, from values their owners publish: the queue's
/// levels (`QueueWriter.levels`, after every transaction), delivery's state (`DeliveryDriver.status`,
/// after every event) and the memory budget's atomics. A scrape or a health check runs on an event
/// loop, so it reads only those: no SQL, no waiting for the writer or for delivery. The counters
/// marked (q) come from the database's counters, so they survive restarts and agree with
/// `modactl status --json`. Dead letters are counted in SQL by `sample`, once a second, off the
/// event loops (docs/monitoring.md).
public final class Monitor: @unchecked Sendable {
    // @unchecked: `state` is touched only under `lock` (scrapes on event loops, the sampler task);
    // `store` (a SQLite connection) only under `storeLock`, by the sampler task.
    private struct State {
        var retryingSince: Double?
        var traceRetryingSince: Double?
        var delivered: Int?
        var deliveredTraces: Int?
        var dropped: Int?
        var readPauses = 0
        var cpuSeconds: Double = 0
    }

    private let registry: PrometheusCollectorRegistry
    private let delivery: DeliveryDriver
    private let traceDelivery: DeliveryDriver?
    private let writer: QueueWriter
    private let memory: MemoryBudget
    private let config: AgentConfig
    private let lock = NIOLock()
    private var state = State()
    private let storeLock = NIOLock()
    private let store: QueueStore
    private let process = ProcessMetrics()

    private let queueEvents = Meter(label: "moda_agent_queue_events", dimensions: [("queue", "events")])
    private let queueBytes = Meter(label: "moda_agent_queue_bytes", dimensions: [("queue", "events")])
    private let oldestAge = Meter(label: "moda_agent_queue_oldest_age_seconds", dimensions: [("queue", "events")])
    private let deadLetters = Meter(label: "moda_agent_dead_letters", dimensions: [("queue", "events")])
    private let deliveredTotal = Counter(label: "moda_agent_delivered_events_total", dimensions: [("queue", "events")])
    private let droppedTotal = Counter(label: "moda_agent_dropped_events_total")
    private let bufferedBytes = Meter(label: "moda_agent_memory_buffered_bytes")
    private let maxBufferedBytes = Meter(label: "moda_agent_memory_max_buffered_bytes")
    private let readPauses = Counter(label: "moda_agent_memory_read_pauses_total")
    private let concurrency = Meter(label: "moda_agent_delivery_concurrency", dimensions: [("queue", "events")])
    private let lastSuccess = Meter(
        label: "moda_agent_delivery_last_success_timestamp_seconds",
        dimensions: [("queue", "events")]
    )
    private let traces = QueueGauges(queue: "traces")
    private let stateGauges = Monitor.deliveryStateGauges(queue: "events")
    /// Trace delivery's, only when it runs: a series for a queue nobody delivers would read as idle.
    private let traceStateGauges: [(DeliveryStatus.State, Meter)]

    /// `moda_agent_delivery_state`: one series per state word, labelled by queue like every other
    /// delivery metric.
    private static func deliveryStateGauges(queue: String) -> [(DeliveryStatus.State, Meter)] {
        DeliveryStatus.State.allCases.map {
            ($0, Meter(label: "moda_agent_delivery_state", dimensions: [("queue", queue), ("state", $0.rawValue)]))
        }
    }

    /// `registry` is the one the daemon bootstrapped swift-metrics with; `store` a connection of the
    /// monitor's own, for counting dead letters.
    public init(
        registry: PrometheusCollectorRegistry,
        store: QueueStore,
        delivery: DeliveryDriver,
        traceDelivery: DeliveryDriver? = nil,
        writer: QueueWriter,
        memory: MemoryBudget,
        config: AgentConfig
    ) {
        self.traceDelivery = traceDelivery
        traceStateGauges = traceDelivery == nil ? [] : Self.deliveryStateGauges(queue: "traces")
        self.memory = memory
        self.registry = registry
        self.delivery = delivery
        self.writer = writer
        self.config = config
        self.store = store
        Meter(label: "moda_agent_build_info", dimensions: [("version", AgentVersion.current)]).set(1)
    }

    /// The once-a-second work kept off the event loops: counts dead letters (SQL on the monitor's
    /// own connection), asks the writer to publish its levels again (changes by another process,
    /// such as a replay), reads `/proc` for the `process_*` metrics, and brings the gauges up to date
    /// (`/health` counts how long delivery has been retrying from them).
    public func sample(now: Double = Timestamp.now()) {
        writer.refreshLevels()
        storeLock.withLock {
            if let dead = try? store.deadLetterCount() { deadLetters.set(Int64(dead)) }
            if let dead = try? store.deadTraceCount() { traces.deadLetters.set(Int64(dead)) }
        }
        lock.withLock { state.cpuSeconds = process.sample(previousCPU: state.cpuSeconds) }
        publish(now: now)
    }

    /// Sets the gauges from the published values; returns what `/health` decides from. Reads
    /// copies of values and takes one uncontended lock: safe on an event loop.
    @discardableResult
    func publish(now: Double = Timestamp.now()) -> HealthReport.Inputs {
        let levels = writer.levels.value
        let status = delivery.status
        let traceStatus = traceDelivery?.status
        let lastCommitFailed = writer.lastCommitFailed
        let budget = memory.snapshot()
        return lock.withLock { () -> HealthReport.Inputs in
            queueEvents.set(Int64(levels.queuedEvents))
            queueBytes.set(Int64(levels.queuedBytes))
            oldestAge.set(levels.oldestReceivedAt.map { max(0, now - $0) } ?? 0)
            // Counters only go up: add what the database gained since the last look (all of it first).
            deliveredTotal.increment(by: Int64(max(0, levels.deliveredEvents - (state.delivered ?? 0))))
            droppedTotal.increment(by: Int64(max(0, levels.droppedEvents - (state.dropped ?? 0))))
            state.delivered = max(state.delivered ?? 0, levels.deliveredEvents)
            state.dropped = max(state.dropped ?? 0, levels.droppedEvents)
            if let success = status.lastSuccessAt { lastSuccess.set(success) }
            traces.queued.set(Int64(levels.queuedExports))
            traces.bytes.set(Int64(levels.exportBytes))
            traces.oldestAge.set(levels.oldestExportReceivedAt.map { max(0, now - $0) } ?? 0)
            traces.delivered.increment(by: Int64(max(0, levels.deliveredExports - (state.deliveredTraces ?? 0))))
            state.deliveredTraces = max(state.deliveredTraces ?? 0, levels.deliveredExports)
            if let success = traceStatus?.lastSuccessAt { traces.lastSuccess.set(success) }
            concurrency.set(Int64(status.concurrency))
            bufferedBytes.set(Int64(budget.bufferedBytes))
            maxBufferedBytes.set(Int64(budget.maxBufferedBytes))
            readPauses.increment(by: Int64(max(0, budget.readPauses - state.readPauses)))
            state.readPauses = max(state.readPauses, budget.readPauses)
            for (word, gauge) in stateGauges { gauge.set(word == status.state ? 1 : 0) }
            for (word, gauge) in traceStateGauges { gauge.set(word == traceStatus?.state ? 1 : 0) }
            state.retryingSince = Self.retryingSince(state.retryingSince, status.state, now: now)
            state.traceRetryingSince = Self.retryingSince(state.traceRetryingSince, traceStatus?.state, now: now)
            return HealthReport.Inputs(
                delivery: status,
                retryingForSeconds: state.retryingSince.map { now - $0 },
                queuedEvents: levels.queuedEvents,
                queuedBytes: levels.queuedBytes + levels.exportBytes,
                maxQueueBytes: config.queue.maxBytes,
                whenFull: config.queue.whenFull,
                lastCommitFailed: lastCommitFailed,
                traceDelivery: traceStatus,
                traceRetryingForSeconds: state.traceRetryingSince.map { now - $0 }
            )
        }
    }

    /// When delivery started retrying without a success since: kept while it still retries, cleared otherwise.
    private static func retryingSince(_ since: Double?, _ state: DeliveryStatus.State?, now: Double) -> Double? {
        state == .retrying ? since ?? now : nil
    }

    /// The Prometheus text exposition, from the values published so far.
    public func metricsText() -> [UInt8] {
        publish()
        return registry.emitToBuffer()
    }

    public func health() -> HealthReport {
        HealthReport.evaluate(publish())
    }

    public func close() {
        storeLock.withLock { store.close() }
    }
}

/// The per-queue gauges of docs/monitoring.md for one `queue` label (the events' are the monitor's own).
private struct QueueGauges {
    let queued: Meter
    let bytes: Meter
    let oldestAge: Meter
    let deadLetters: Meter
    let delivered: CoreMetrics.Counter
    let lastSuccess: Meter

    init(queue: String) {
        queued = Meter(label: "moda_agent_queue_events", dimensions: [("queue", queue)])
        bytes = Meter(label: "moda_agent_queue_bytes", dimensions: [("queue", queue)])
        oldestAge = Meter(label: "moda_agent_queue_oldest_age_seconds", dimensions: [("queue", queue)])
        deadLetters = Meter(label: "moda_agent_dead_letters", dimensions: [("queue", queue)])
        delivered = CoreMetrics.Counter(label: "moda_agent_delivered_events_total", dimensions: [("queue", queue)])
        lastSuccess = Meter(label: "moda_agent_delivery_last_success_timestamp_seconds", dimensions: [("queue", queue)])
    }
}
