import Dispatch
import Logging

/// Drains the queue to Moda: reads the head of the queue as a batch, sends it when it is full,
/// when its oldest event has waited `flushIntervalMs`, on `flush`, or while draining; classifies
/// the answer and acts on it (delete, retry with backoff, split, dead-letter, pause).
///
/// Dispatch-driven: every decision runs on one serial queue, timers are dispatch work items, and
/// only the HTTP call leaves the queue. Batches are read from SQLite when needed, never cached,
/// so memory does not grow with the backlog. Up to `delivery.maxInFlight` batches are in flight,
/// each a later stretch of the queue; with 1, events leave strictly in order.
public final class Flusher: @unchecked Sendable {
    // @unchecked: every stored var below is read and written only on `queue`.
    private let queue = DispatchQueue(label: "moda-agent.flusher")
    private let store: QueueStore
    private let uploader: Uploader
    private var settings: DeliverySettings
    private let logger: Logger
    private var status: DeliveryStatus
    /// Batches to send (again) before reading new ones, oldest first: halves of a refused batch,
    /// and batches waiting out a backoff.
    private var pending: [[QueuedEvent]] = []
    private var inFlight = 0
    /// The last queue id handed to a batch that is in flight or pending; new batches start after it.
    private var cursor: Int64 = 0
    private var timer: DispatchWorkItem?
    private var waitingForRetry = false
    /// The timer only polls an empty queue for events added by another process (`modactl
    /// dead-letters replay`); a commit should not wait for it.
    private var idlePolling = false
    private var forceSend = false
    private var draining = false
    private var stopped = false
    private var drainWaiters: [CheckedContinuation<Bool, Never>] = []
    /// Events committed since the head was last read and found not full; saves re-reading the
    /// head on every commit while a partial batch waits for its flush interval.
    private var unreadCommits = 0
    private var lastHeadCount = 0
    private var random = SystemRandomNumberGenerator()
    private let reserve: DiskReserve?
    /// Runs the flusher's writes between the ingest writer's commits (`QueueWriter.serialized`).
    private let writeTurn: (any WriteTurn)?
    /// Delivered batches whose removal from the queue failed (full disk): removing them comes
    /// before anything else, so they are not sent again in a loop.
    private var undeleted: [(first: Int64, last: Int64)] = []

    public init(
        store: QueueStore,
        uploader: Uploader,
        settings: DeliverySettings,
        logger: Logger,
        reserve: DiskReserve? = nil,
        writeTurn: (any WriteTurn)? = nil
    ) throws(QueueError) {
        self.store = store
        self.writeTurn = writeTurn
        self.reserve = reserve
        self.uploader = uploader
        self.settings = settings
        self.logger = logger
        var status = try store.readStatus()
        // A pause or backoff from a previous run is not carried over: a restart tries at once.
        status.nextAttemptAt = nil
        status.attempts = 0
        if status.state != .ok { status.state = .idle }
        self.status = status
    }

    public func start() {
        queue.async {
            self.persistStatus()
            self.evaluate()
        }
    }

    /// The ingest writer committed `count` events.
    public func eventsCommitted(_ count: Int) {
        queue.async {
            self.unreadCommits += count
            if self.timer == nil || self.idlePolling
                || self.lastHeadCount + self.unreadCommits >= self.settings.batch.maxEvents
            {
                if !self.waitingForRetry { self.evaluate() }
            }
        }
    }

    /// `modactl flush`: deliver now, skipping any backoff or pause wait.
    public func flushNow() {
        queue.async {
            self.logger.info("flush requested")
            self.forceSend = true
            self.cancelTimer()
            self.evaluate()
        }
    }

    /// SIGHUP: new endpoint, key and delivery settings; a paused delivery tries again at once.
    public func reload(_ settings: DeliverySettings) {
        queue.async {
            self.settings = settings
            if self.status.state == .unauthorized || self.status.state == .misconfigured || self.waitingForRetry {
                self.cancelTimer()
            }
            self.evaluate()
        }
    }

    /// Delivers what it can until the queue is empty or `timeout` passes. Returns true when empty.
    public func drain(timeout: Double) async -> Bool {
        await withCheckedContinuation { continuation in
            queue.async {
                self.draining = true
                self.forceSend = true
                self.drainWaiters.append(continuation)
                self.queue.asyncAfter(deadline: .now() + timeout) { self.resumeDrainWaiters(drained: false) }
                // One immediate attempt even mid-backoff: the upstream may be back.
                self.cancelTimer()
                self.evaluate()
            }
        }
    }

    /// Stops all activity; an in-flight batch stays queued and is sent again after a restart.
    public func stop() {
        queue.sync {
            stopped = true
            cancelTimer()
            resumeDrainWaiters(drained: false)
        }
    }

    /// Queue depth and delivery state, for sd_notify STATUS and the watchdog: answering at all
    /// proves the flusher's queue is not stuck.
    public func snapshot() -> (queuedEvents: Int, state: DeliveryStatus.State) {
        queue.sync {
            let queued = (try? store.counters().queuedEvents) ?? 0
            return (queued, status.state)
        }
    }

    // MARK: - On the queue

    private func evaluate() {
        guard !stopped else { return }
        while let range = undeleted.first {
            guard removeDelivered(first: range.first, last: range.last) else { return }
        }
        if waitingForRetry { return }
        while inFlight < settings.delivery.maxInFlight {
            if !pending.isEmpty {
                send(pending.removeFirst())
                continue
            }
            // Nothing handed out: read from the true head, so nothing can be skipped.
            if inFlight == 0 { cursor = 0 }
            let head: QueueHead
            do {
                head = try store.head(
                    after: cursor,
                    maxEvents: settings.batch.maxEvents,
                    maxBytes: settings.batch.maxBytes
                )
            } catch {
                logger.error("cannot read the queue; trying again in 1 s", metadata: ["error": "\(error)"])
                schedule(after: 1) { self.evaluate() }
                return
            }
            unreadCommits = 0
            lastHeadCount = head.events.count
            guard let oldest = head.events.first, let newest = head.events.last else {
                if inFlight == 0 { becameIdle() }
                return
            }
            let due = oldest.receivedAt + settings.batch.flushIntervalMs / 1000
            let now = Timestamp.now()
            guard head.isFull || forceSend || draining || due <= now else {
                if timer == nil || idlePolling { schedule(after: due - now) { self.evaluate() } }
                return
            }
            cursor = newest.id
            send(head.events)
        }
    }

    /// The queue is empty and nothing is in flight.
    private func becameIdle() {
        forceSend = false
        resumeDrainWaiters(drained: true)
        schedule(after: max(1, settings.batch.flushIntervalMs / 1000)) { self.evaluate() }
        idlePolling = true
    }

    private func send(_ events: [QueuedEvent]) {
        cancelTimer()
        inFlight += 1
        let body = RequestBody.encode(events.map(\.body))
        let settings = self.settings
        let uploader = self.uploader
        Task {
            let result = await uploader.post(
                body: body,
                endpoint: settings.endpoint,
                apiKey: settings.apiKey,
                timeoutSeconds: settings.delivery.timeoutSeconds
            )
            self.queue.async { self.handle(result, for: events) }
        }
    }

    /// Queues `batch` to be sent before any new one, in queue order.
    private func sendLater(_ batch: [QueuedEvent]) {
        guard let first = batch.first?.id else { return }
        let index = pending.firstIndex { ($0.first?.id ?? 0) > first } ?? pending.endIndex
        pending.insert(batch, at: index)
    }

    private func handle(_ result: UploadResult, for events: [QueuedEvent]) {
        inFlight -= 1
        guard !stopped, let first = events.first, let last = events.last else { return }
        let now = Timestamp.now()
        switch ResponseClassifier.classify(result, eventCount: events.count) {
        case .delivered(let requestId):
            status.state = .ok
            status.lastSuccessAt = now
            status.attempts = 0
            status.nextAttemptAt = nil
            undeleted.append((first.id, last.id))
            logger.debug("delivered", metadata: ["event_count": "\(events.count)", "request_id": "\(requestId ?? "")"])
            evaluate()
        case .retry(let after, let fault):
            sendLater(events)
            retry(fault: fault, retryAfter: after, state: .retrying, now: now)
        case .pause(let reason, let fault):
            sendLater(events)
            status.state = reason == .unauthorized ? .unauthorized : .misconfigured
            retry(fault: fault, retryAfter: settings.delivery.retryMaxSeconds, state: status.state, now: now)
        case .split(let fault):
            logger.warning(
                "the API refused a batch; splitting it to find the events at fault",
                metadata: [
                    "delivery_status": "\(fault.status ?? 0)", "event_count": "\(events.count)",
                    "message": "\(fault.message)",
                ]
            )
            let middle = events.count / 2
            sendLater(Array(events[..<middle]))
            sendLater(Array(events[middle...]))
            evaluate()
        case .deadLetter(let fault):
            status.lastError = .init(status: fault.status, message: fault.message, at: now)
            do {
                try transact { [status] store throws(QueueError) in
                    try store.deadLetter(first, fault: fault, at: now, status: status)
                }
                logger.warning(
                    "event dead-lettered",
                    metadata: [
                        "delivery_status": "\(fault.status ?? 0)",
                        "message": "\(fault.message)", "request_id": "\(fault.requestId ?? "")",
                    ]
                )
            } catch {
                logger.error("cannot dead-letter an event; trying again in 1 s", metadata: ["error": "\(error)"])
                sendLater(events)
                schedule(after: 1) { self.evaluate() }
                return
            }
            evaluate()
        }
    }

    /// Removes a delivered batch. On a full disk it frees the reserve and tries again; if that
    /// still fails it tries every second, sending nothing meanwhile.
    private func removeDelivered(first: Int64, last: Int64) -> Bool {
        var diskFull = false
        do {
            do {
                try transact { [status] store throws(QueueError) in
                    try store.markDelivered(first: first, last: last, status: status)
                }
            } catch  where error.isTransient {
                diskFull = true
                if reserve?.release() == true {
                    logger.warning("the disk is full: released the queue's space reserve to remove delivered events")
                }
                // A WAL keeps its largest size; truncating it is the other space a full disk can get back.
                try? write { () throws(QueueError) in try store.checkpointAndTruncateWAL() }
                try transact { [status] store throws(QueueError) in
                    try store.markDelivered(first: first, last: last, status: status)
                }
            }
        } catch {
            logger.error(
                "delivered, but cannot remove the batch from the queue; trying again in 1 s",
                metadata: ["error": "\(error)"]
            )
            schedule(after: 1) { self.evaluate() }
            return false
        }
        undeleted.removeFirst()
        if diskFull || reserve?.isHeld == false {
            try? write { () throws(QueueError) in try store.checkpointAndTruncateWAL() }
        }
        reserve?.ensure()
        return true
    }

    private func retry(fault: DeliveryFault, retryAfter: Double?, state: DeliveryStatus.State, now: Double) {
        status.attempts += 1
        let delay: Double
        if state == .retrying {
            delay = settings.backoff.delay(attempt: status.attempts, retryAfter: retryAfter, using: &random)
        } else {
            delay = settings.delivery.retryMaxSeconds
        }
        status.state = state
        status.lastError = .init(status: fault.status, message: fault.message, at: now)
        status.nextAttemptAt = now + delay
        persistStatus()
        logger.warning(
            "delivery failed; will try again",
            metadata: [
                "delivery_status": "\(fault.status.map(String.init) ?? "none")", "message": "\(fault.message)",
                "attempt": "\(status.attempts)", "retry_in_seconds": "\(delay)", "state": "\(state.rawValue)",
            ]
        )
        schedule(after: delay) { self.evaluate() }
        // After schedule(), which clears the flag: while it is set, new commits must not send early.
        waitingForRetry = true
    }

    /// Runs `work` on the ingest writer's next group commit (one transaction and fsync for both),
    /// or on the flusher's own connection when there is no writer (tests of the flusher alone).
    private func transact(_ work: @escaping (QueueStore) throws(QueueError) -> Void) throws(QueueError) {
        if let writeTurn {
            try writeTurn.run(work)
        } else {
            try work(store)
        }
    }

    /// Runs `body` between two group commits, for work that cannot be inside a transaction.
    private func write(_ body: () throws(QueueError) -> Void) throws(QueueError) {
        if let writeTurn {
            try writeTurn.serialized(body)
        } else {
            try body()
        }
    }

    private func persistStatus() {
        do {
            try transact { [status] store throws(QueueError) in try store.writeStatus(status) }
        } catch {
            logger.error("cannot record the delivery state", metadata: ["error": "\(error)"])
        }
    }

    private func schedule(after seconds: Double, _ action: @escaping @Sendable () -> Void) {
        cancelTimer()
        let item = DispatchWorkItem {
            self.timer = nil
            self.waitingForRetry = false
            self.idlePolling = false
            action()
        }
        timer = item
        queue.asyncAfter(deadline: .now() + max(0, seconds), execute: item)
    }

    private func cancelTimer() {
        timer?.cancel()
        timer = nil
        waitingForRetry = false
        idlePolling = false
    }

    private func resumeDrainWaiters(drained: Bool) {
        guard !drainWaiters.isEmpty, drained ? inFlight == 0 : true else { return }
        let waiters = drainWaiters
        drainWaiters.removeAll()
        for waiter in waiters { waiter.resume(returning: drained) }
    }
}
