import CoreMetrics
import NIOConcurrencyHelpers
import Prometheus

/// Samples what the queue database and delivery know (queue depth, delivered and dropped counts,
/// dead letters, the delivery state) into the SPEC 9.1 gauges, and decides `/health`. The counters
/// marked (q) in SPEC 9.1 come from the database, so they survive restarts and agree with
/// `modactl status --json`. Sampled every second and on each request.
public final class Monitor: @unchecked Sendable {
    // @unchecked: `state` (with its SQLite connection) is touched only under `lock`; the sampler task
    // and the listener's event loop both sample.
    private struct State {
        var store: QueueStore
        var retryingSince: Double?
        var traceRetryingSince: Double?
        var delivered: Int?
        var deliveredTraces: Int?
        var dropped: Int?
        var readPauses = 0
        var cpuSeconds: Double = 0
        var report: HealthReport.Inputs?
    }

    private let registry: PrometheusCollectorRegistry
    private let delivery: DeliveryDriver
    private let traceDelivery: DeliveryDriver?
    private let writer: QueueWriter
    private let memory: MemoryBudget
    private let config: AgentConfig
    private let lock = NIOLock()
    private var state: State
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
    /// monitor's own.
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
        state = State(store: store)
        Meter(label: "moda_agent_build_info", dimensions: [("version", AgentVersion.current)]).set(1)
    }

    /// Reads the current state into the gauges; returns what `/health` decides from.
    @discardableResult
    public func sample(now: Double = Timestamp.now()) -> HealthReport.Inputs? {
        let status = delivery.status
        let traceStatus = traceDelivery?.status
        let lastCommitFailed = writer.lastCommitFailed
        return lock.withLock { () -> HealthReport.Inputs? in
            guard let counters = try? state.store.counters() else { return state.report }
            let oldest = try? state.store.oldestReceivedAt()
            let dead = (try? state.store.deadLetterCount()) ?? 0
            queueEvents.set(Int64(counters.queuedEvents))
            queueBytes.set(Int64(counters.queuedBytes))
            oldestAge.set(oldest.map { max(0, now - $0) } ?? 0)
            deadLetters.set(Int64(dead))
            // Counters only go up: add what the database gained since the last look (all of it first).
            deliveredTotal.increment(by: Int64(max(0, counters.deliveredEvents - (state.delivered ?? 0))))
            droppedTotal.increment(by: Int64(max(0, counters.droppedEvents - (state.dropped ?? 0))))
            state.delivered = max(state.delivered ?? 0, counters.deliveredEvents)
            state.dropped = max(state.dropped ?? 0, counters.droppedEvents)
            if let success = status.lastSuccessAt { lastSuccess.set(success) }
            var traceBytes = 0
            if let traceCounters = try? state.store.traceCounters() {
                traceBytes = traceCounters.queuedBytes
                traces.queued.set(Int64(traceCounters.queuedExports))
                traces.bytes.set(Int64(traceCounters.queuedBytes))
                let oldestTrace = try? state.store.oldestTraceReceivedAt()
                traces.oldestAge.set(oldestTrace.map { max(0, now - $0) } ?? 0)
                traces.deadLetters.set(Int64((try? state.store.deadTraceCount()) ?? 0))
                traces.delivered.increment(
                    by: Int64(max(0, traceCounters.deliveredExports - (state.deliveredTraces ?? 0)))
                )
                state.deliveredTraces = max(state.deliveredTraces ?? 0, traceCounters.deliveredExports)
            }
            if let success = traceStatus?.lastSuccessAt { traces.lastSuccess.set(success) }
            concurrency.set(Int64(status.concurrency))
            let budget = memory.snapshot()
            bufferedBytes.set(Int64(budget.bufferedBytes))
            maxBufferedBytes.set(Int64(budget.maxBufferedBytes))
            readPauses.increment(by: Int64(max(0, budget.readPauses - state.readPauses)))
            state.readPauses = max(state.readPauses, budget.readPauses)
            for (word, gauge) in stateGauges { gauge.set(word == status.state ? 1 : 0) }
            for (word, gauge) in traceStateGauges { gauge.set(word == traceStatus?.state ? 1 : 0) }
            state.retryingSince = Self.retryingSince(state.retryingSince, status.state, now: now)
            state.traceRetryingSince = Self.retryingSince(state.traceRetryingSince, traceStatus?.state, now: now)
            state.cpuSeconds = process.sample(previousCPU: state.cpuSeconds)
            let inputs = HealthReport.Inputs(
                delivery: status,
                retryingForSeconds: state.retryingSince.map { now - $0 },
                queuedEvents: counters.queuedEvents,
                queuedBytes: counters.queuedBytes + traceBytes,
                maxQueueBytes: config.queue.maxBytes,
                whenFull: config.queue.whenFull,
                lastCommitFailed: lastCommitFailed,
                traceDelivery: traceStatus,
                traceRetryingForSeconds: state.traceRetryingSince.map { now - $0 }
            )
            state.report = inputs
            return inputs
        }
    }

    /// When delivery started retrying without a success since: kept while it still retries, cleared otherwise.
    private static func retryingSince(_ since: Double?, _ state: DeliveryStatus.State?, now: Double) -> Double? {
        state == .retrying ? since ?? now : nil
    }

    /// The Prometheus text exposition, freshly sampled.
    public func metricsText() -> [UInt8] {
        sample()
        return registry.emitToBuffer()
    }

    public func health() -> HealthReport {
        guard let inputs = sample() else {
            return HealthReport(
                healthy: false,
                reason: "cannot read the queue database",
                deliveryState: delivery.status.state,
                queuedEvents: 0
            )
        }
        return HealthReport.evaluate(inputs)
    }

    public func close() {
        lock.withLock { state.store.close() }
    }
}

/// The per-queue gauges of SPEC 9.1 for one `queue` label (the events' are the monitor's own).
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
