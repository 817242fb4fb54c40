import Dispatch
import Logging
import NIOCore

/// Carries out what `DeliveryStateMachine` decides for one queue (`DeliverySource`: events or
/// trace exports): scans the head and reads each batch's rows on its own connection, posts
/// batches with the `Uploader`, hands removals, dead letters and state to the queue's writer,
/// keeps the one timer the machine asks for, and logs. It decides nothing itself.
///
/// Everything runs on one serial queue; only the HTTP calls and the writer's commit leave it, and
/// their results come back as events. A batch's body is built here (from the bodies its commit
/// announced while delivery keeps up, else from the rows), while the other requests are in
/// flight; the body lives only as long as its request.
public final class DeliveryDriver: @unchecked Sendable {
    // @unchecked: the mutable state (`machine`, `timer`, `random`, `drainWaiters`, `spareBodies`,
    // `recentBodies`, `sentSinceTimer`, `logs`) and `source` (with its SQLite connection, not Sendable)
    // are touched only on `queue`, a serial queue; `published` is a lock-guarded value others read;
    // the other properties are constants of Sendable types (the writer, uploader, clock, logger and metrics).
    private let queue: DispatchQueue
    private var machine: DeliveryStateMachine
    private let source: any DeliverySource
    private let writer: QueueWriter
    private let uploader: any BatchUploader
    private let clock: any DeliveryClock
    private let logger: Logger
    private let metrics: DeliveryMetrics
    private var timer: DispatchWorkItem?
    private var random = SystemRandomNumberGenerator()
    private var drainWaiters: [CheckedContinuation<Bool, Never>] = []
    /// Bodies of answered requests, written into again by the next ones (`SpareBodies`).
    private var spareBodies = SpareBodies()
    /// Bodies of the commits taken while delivery keeps up, sent from memory (`RecentBodies`).
    private var recentBodies = RecentBodies()
    private var sentSinceTimer = 0
    /// `machine.status` as of the last event, for monitors that must not wait behind a batch's encoding.
    private let published: PublishedValue<DeliveryStatus>
    /// Per batch: its ids by conversation while it is in flight, then its answer once delivered or
    /// refused, until its removal is handed to the writer (the delivery log's entry).
    private var logs = DeliveryLogBook()

    /// `reader` is delivery's own connection to the queue; WAL lets it read beside the writer.
    public convenience init(
        reader: QueueStore,
        writer: QueueWriter,
        uploader: Uploader,
        settings: DeliverySettings,
        logger: Logger
    ) throws(QueueError) {
        try self.init(
            source: EventSource(reader: reader, droppedThrough: writer.droppedThrough),
            writer: writer,
            uploader: uploader,
            settings: settings,
            logger: logger
        )
    }

    /// The trace exports' delivery (docs/protocol.md): one lane, one request at a time, to `tracesEndpoint`.
    public static func traces(
        reader: QueueStore,
        writer: QueueWriter,
        uploader: Uploader,
        settings: DeliverySettings,
        logger: Logger
    ) throws(QueueError) -> DeliveryDriver {
        try DeliveryDriver(
            source: TraceSource(reader: reader, logger: logger),
            writer: writer,
            uploader: uploader,
            settings: settings,
            logger: logger
        )
    }

    /// `clock` and `uploader`: the system's and the HTTP client in the daemon, a test's stand-ins in
    /// DeliveryDriverTests.
    init(
        source: any DeliverySource,
        writer: QueueWriter,
        uploader: any BatchUploader,
        settings: DeliverySettings,
        logger: Logger,
        clock: any DeliveryClock = SystemDeliveryClock()
    ) throws(QueueError) {
        self.source = source
        self.writer = writer
        self.uploader = uploader
        self.clock = clock
        self.logger = logger
        // Utility QoS: Dispatch on Linux runs it at nice 2. While a backlog drains on a busy machine,
        // the writer and the connections (nice 0) then get the CPU before batch building does, which
        // kept acknowledgements fast: ack p99 8.0 → 4.3 ms in the drain scenario (docs/performance.md).
        queue = DispatchQueue(label: "moda-agent.delivery.\(source.kind.rawValue)", qos: .utility)
        metrics = DeliveryMetrics(queue: source.kind.rawValue)
        machine = DeliveryStateMachine(settings: source.kind.fitted(settings), stored: try source.readStatus())
        published = PublishedValue(machine.status)
    }

    public func start() {
        queue.async {
            let last: Int64
            do {
                last = try self.source.lastID()
            } catch {
                self.logger.error("cannot read the queue", metadata: ["error": "\(error)"])
                last = 0
            }
            self.apply(.started(lastQueuedID: last))
        }
    }

    /// The queue's writer committed events.
    public func committed(_ commit: QueueWriter.Commit) {
        queue.async {
            // Kept before the machine sees the commit: it may send some of them at once.
            self.recentBodies.keep(commit.bodies)
            self.apply(.committed(count: commit.events, lastID: commit.lastID, added: commit.added))
            self.recentBodies.forget(after: self.machine.scanned)
        }
    }

    /// Answers once the driver's queue has run everything handed to it before the call: true when no
    /// request is out and no write waits on the writer. What a test waits on before checking that
    /// nothing happened, instead of waiting for time to pass.
    func isQuiet() async -> Bool {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: self.machine.inFlight.isEmpty && self.machine.writes.isEmpty) }
        }
    }

    /// `modactl flush`: deliver now, skipping any backoff or pause wait.
    public func flush() {
        queue.async {
            self.logger.info("flush requested")
            self.apply(.flushRequested)
        }
    }

    /// SIGHUP: new endpoint, key and delivery settings; a paused delivery tries again at once.
    public func reload(_ settings: DeliverySettings) {
        let fitted = source.kind.fitted(settings)
        queue.async { self.apply(.reload(fitted)) }
    }

    /// Delivers what it can until the queue is empty or `deadline` (monotonic) passes, then stops.
    /// Returns true when the queue was emptied.
    public func drain(until deadline: ContinuousClock.Instant) async -> Bool {
        await withCheckedContinuation { continuation in
            queue.async {
                self.drainWaiters.append(continuation)
                self.apply(.drainRequested(deadline: deadline))
                // Already stopped: there is nothing left to wait for.
                if self.machine.isStopped { self.finishDrain(drained: false) }
            }
        }
    }

    /// Stops all activity; a batch in flight stays queued and is sent again after a restart.
    public func stop() {
        queue.sync {
            apply(.stop)
            finishDrain(drained: false)
        }
    }

    /// Closes delivery's queue connection, once stopped.
    public func close() {
        queue.sync { source.close() }
    }

    /// The queue this driver delivers (its logs and metrics say which).
    public var queueKind: DeliveryQueue { source.kind }

    /// The drain budget of the settings in force (SIGHUP may have changed it).
    public var drainTimeoutSeconds: Double {
        queue.sync { machine.settings.delivery.drainTimeoutSeconds }
    }

    /// The state as `status` shows it, as last published: never waits for the driver's queue.
    public var status: DeliveryStatus { published.value }

    /// Queue depth and delivery state, for sd_notify STATUS, from published values.
    public func snapshot() -> (queuedEvents: Int, state: DeliveryStatus.State) {
        (source.queuedCount(in: writer.levels.value), published.value.state)
    }

    /// Runs `body` on the driver's queue after what it is doing now: an answer proves delivery is
    /// not stuck (the heartbeat's round trip).
    public func ping(_ body: @escaping @Sendable () -> Void) {
        queue.async(execute: body)
    }

    /// Requests allowed in flight right now (adaptive, at most `delivery.maxInFlight`).
    public var concurrency: Int {
        queue.sync { machine.concurrencyLimit }
    }

    // MARK: - On the queue

    private func apply(_ event: DeliveryStateMachine.Event) {
        var actions = machine.handle(event, at: clock.now())
        var index = 0
        while index < actions.count {
            if let next = execute(actions[index]) { actions += machine.handle(next, at: clock.now()) }
            index += 1
        }
        published.publish(machine.status)
    }

    /// Runs one action; a read answers at once with the event it produced.
    private func execute(_ action: DeliveryStateMachine.Action) -> DeliveryStateMachine.Event? {
        switch action {
        case .scan(let after, let limit):
            do {
                return .scanned(try source.scan(after: after, limit: limit))
            } catch {
                logger.error("cannot read the queue; trying again in 1 s", metadata: ["error": "\(error)"])
                return .scanFailed
            }
        case .send(let batch):
            return send(batch)
        case .wake(let instant):
            setTimer(instant)
        case .remove(let id, let ids, let through, let status):
            let count = ids.count
            let log = ids.isEmpty ? nil : logs.record(for: id, at: Timestamp.now())
            recentBodies.forget(through: through)
            writer.perform(source.removal(ids: ids, through: through, status: status, log: log)) { result in
                self.queue.async {
                    self.written(
                        id,
                        result,
                        failure: "delivered, but cannot remove the batch from the queue; trying again in 1 s"
                    )
                }
            }
            logger.debug("delivered", metadata: [source.kind.countKey: "\(count)"])
        case .deadLetter(let id, let eventID, let fault, let time, let status):
            let write: QueueWrite
            do {
                let latency = logs.record(for: id, at: time)?.latency
                let verdict = DeadLetterVerdict(fault: fault, time: time, status: status, latency: latency)
                guard let read = try source.deadLetter(id: eventID, verdict) else { return .written(id) }
                write = read
            } catch {
                logger.error(
                    "cannot read a \(source.kind.itemName) to dead-letter it; trying again in 1 s",
                    metadata: ["error": "\(error)"]
                )
                return .writeFailed(id)
            }
            let item = source.kind.itemName
            writer.perform(write) { result in
                if case .success = result {
                    self.metrics.eventDeadLettered()
                    self.logger.warning(
                        "\(item) dead-lettered",
                        metadata: [
                            "delivery_status": "\(fault.status ?? 0)",
                            "message": "\(fault.message)", "request_id": "\(fault.requestId ?? "")",
                        ]
                    )
                }
                self.queue.async {
                    self.written(id, result, failure: "cannot dead-letter a \(item); trying again in 1 s")
                }
            }
        case .persist(let status):
            writer.perform(source.statusWrite(status)) { result in
                if case .failure(let error) = result {
                    self.logger.error("cannot record the delivery state", metadata: ["error": "\(error)"])
                }
            }
        case .retryScheduled(let fault, let attempt, let delay, let state):
            metrics.retryScheduled()
            logger.warning(
                "\(source.kind.deliveryName) failed; will try again",
                metadata: [
                    "delivery_status": "\(fault.status.map(String.init) ?? "none")", "message": "\(fault.message)",
                    "attempt": "\(attempt)", "retry_in_seconds": "\(Durations.seconds(delay))",
                    "state": "\(state.rawValue)",
                ]
            )
        case .splitting(let fault, let eventCount):
            logger.warning(
                "the API refused a batch; splitting it to find the events at fault",
                metadata: [
                    "delivery_status": "\(fault.status ?? 0)", "event_count": "\(eventCount)",
                    "message": "\(fault.message)",
                ]
            )
        case .drainFinished(let drained):
            finishDrain(drained: drained)
        }
        return nil
    }

    /// Reads the batch's rows and builds its body now, for this attempt only; a retry reads them again.
    private func send(_ batch: DeliveryStateMachine.Batch) -> DeliveryStateMachine.Event? {
        let request: OutgoingRequest
        do {
            guard
                let read = try source.request(
                    ids: batch.ids,
                    spare: spareBodies.take() ?? ByteBuffer(),
                    kept: recentBodies
                )
            else {
                return .vanished(batch.id)
            }
            request = read
        } catch {
            logger.error("cannot read a batch to send it; trying again in 1 s", metadata: ["error": "\(error)"])
            return .unreadable(batch.id)
        }
        // The batch's own size decides split or dead letter: a row dropped meanwhile must not
        // make a two-event batch look like the one event at fault.
        let eventCount = batch.ids.count
        let settings = machine.settings
        let uploader = self.uploader
        let metrics = self.metrics
        let source = self.source
        let endpoint = source.endpoint(settings)
        let contentType = request.contentType
        // The driver's one reference to the body, taken back once answered (`SpareBodies.keep`).
        let body = SpareBody(request.body)
        sentSinceTimer += 1
        metrics.requestStarted()
        if !request.groups.isEmpty {
            logs.sent(batch.id, groups: request.groups)
            writer.tap.inFlight.started(
                batch: batch.id.raw,
                ids: batch.ids,
                attempt: batch.attempts + 1,
                at: Timestamp.now()
            )
        }
        let tap = writer.tap
        Task {
            let started = ContinuousClock.now
            let result = await uploader.post(
                body: body.buffer ?? ByteBuffer(),
                contentType: contentType,
                endpoint: endpoint,
                apiKey: settings.apiKey,
                timeoutSeconds: settings.delivery.timeoutSeconds
            )
            let latency = ContinuousClock.now - started
            metrics.requestFinished(result, after: latency)
            let decision = source.classify(result, itemCount: eventCount)
            tap.inFlight.finished(batch: batch.id.raw)
            self.queue.async {
                self.spareBodies.keep(body.take(), after: decision, limit: settings.delivery.maxInFlight)
                // Delivery waits: the rows are read again when it goes on.
                switch decision {
                case .retry, .pause: self.recentBodies.removeAll()
                case .delivered, .split, .deadLetter: break
                }
                self.logs.answered(batch.id, result: result, decision: decision, latency: latency)
                let jitter = Double.random(in: 0...1, using: &self.random)
                self.apply(.response(batch.id, decision, jitter: jitter))
            }
        }
        return nil
    }

    private func written(_ id: DeliveryStateMachine.BatchID, _ result: Result<Void, QueueError>, failure: String) {
        switch result {
        case .success:
            apply(.written(id))
        case .failure(let error):
            logger.error("\(failure)", metadata: ["error": "\(error)"])
            apply(.writeFailed(id))
        }
    }

    private func setTimer(_ instant: ContinuousClock.Instant?) {
        timer?.cancel()
        timer = nil
        guard let instant else { return }
        let item = DispatchWorkItem { [weak self] in
            guard let self else { return }
            self.timer = nil
            // Nothing sent since the last timer: delivery is idle; its spare bodies go back.
            if self.sentSinceTimer == 0 { self.spareBodies.drop() }
            // Nothing waits to be sent or is out: whatever is still kept will not be asked for.
            if self.machine.nothingOut { self.recentBodies.removeAll() }
            self.sentSinceTimer = 0
            self.apply(.timerFired)
        }
        timer = item
        clock.wake(at: instant, on: queue, item)
    }

    private func finishDrain(drained: Bool) {
        let waiters = drainWaiters
        drainWaiters.removeAll()
        for waiter in waiters { waiter.resume(returning: drained) }
    }
}
