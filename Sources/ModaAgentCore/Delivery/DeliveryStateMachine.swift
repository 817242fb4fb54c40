/// Every delivery decision, as a value: events in, actions out, no I/O and no clock of its own.
///
///     commits ─┐                         ┌─ read the head after id N
///     reads   ─┤                         ├─ send batch B
///     replies ─┼─▶  DeliveryStateMachine ┼─ remove B / dead-letter e / persist status
///     timer   ─┤    (struct, Sendable)   ├─ wake me at T
///     flush, reload, drain ─┘            └─ drain finished
///
/// Waits (flush interval, backoff, pause, drain deadline) are instants of the monotonic clock
/// passed in with each event, so a stepped wall clock cannot stretch or cut them; wall-clock time
/// is only written into the status an operator reads. The head of the queue is read when needed
/// and never cached, so memory does not grow with the backlog; batches in flight or waiting to be
/// sent again are tracked by id, one entry each.
public struct DeliveryStateMachine: Sendable {
    public typealias Instant = ContinuousClock.Instant

    /// What the machine knows of the queue past the batches it handed out.
    enum Head: Equatable {
        case unknown
        /// A read is out; `commits` events were committed since it was asked for.
        case reading(after: Int64, commits: Int)
        /// Nothing past the cursor; look again on a commit, or at `pollAt` for rows another
        /// process added (`modactl dead-letters replay`).
        case empty(pollAt: Instant)
        /// A batch that is not full waits until `due`; `count` grows with commits.
        case partial(count: Int, due: Instant)
    }

    /// Writes handed to the queue's writer; a delivered batch stays here until its removal commits.
    enum PendingWrite: Equatable {
        case removal(first: Int64, last: Int64, Removal)
        case deadLetter(Batch)
    }

    /// A removal that failed once (full disk) holds every send until it commits: a delivered
    /// batch still in the queue would otherwise be read and sent again.
    enum Removal: Equatable {
        case submitted, failed, resubmitted
    }

    public private(set) var settings: DeliverySettings
    public private(set) var status: DeliveryStatus
    private(set) var head = Head.unknown
    private(set) var inFlight: [BatchID: Batch] = [:]
    /// Halves of refused batches and batches waiting out a backoff, oldest first: sent before new ones.
    private(set) var resend: [Batch] = []
    private(set) var writes: [BatchID: PendingWrite] = [:]
    /// The last queue id handed to a batch; new batches start after it.
    private(set) var cursor: Int64 = 0
    /// When the machine learned of each stretch of ids (monotonic), for the flush interval.
    private var arrivals = ArrivalMarks()
    /// No send before this instant: a backoff or a pause.
    private(set) var retryAt: Instant?
    /// No activity before this instant: the queue could not be read or written.
    private var stallUntil: Instant?
    /// `flush` or a drain: send partial batches at once, until the queue is empty.
    private var force = false
    private(set) var drainDeadline: Instant?
    private var running = false
    public private(set) var isStopped = false
    private var lastWake: Instant?
    private var nextBatchID: UInt64 = 0

    /// `stored` is the status of the previous run; a pause or backoff is not carried over: a
    /// restart tries at once.
    public init(settings: DeliverySettings, stored: DeliveryStatus) {
        self.settings = settings
        var status = stored
        status.nextAttemptAt = nil
        status.attempts = 0
        if status.state != .ok { status.state = .idle }
        self.status = status
    }

    public mutating func handle(_ event: Event, at now: Now) -> [Action] {
        var actions: [Action] = []
        guard !isStopped else { return actions }
        if let deadline = drainDeadline, now.instant >= deadline {
            finishDrain(drained: false, into: &actions)
            return actions
        }
        switch event {
        case .started(let lastQueuedID):
            running = true
            // Events already queued count their flush interval from now, however old they are.
            if lastQueuedID > 0 { arrivals.record(through: lastQueuedID, at: now.instant, interval: flushInterval) }
            actions.append(.persist(status))
        case .committed(let count, let lastID):
            arrivals.record(through: lastID, at: now.instant, interval: flushInterval)
            switch head {
            case .empty: head = .unknown
            case .partial(let waiting, let due):
                head =
                    waiting + count >= settings.batch.maxEvents ? .unknown : .partial(count: waiting + count, due: due)
            case .reading(let after, let commits): head = .reading(after: after, commits: commits + count)
            case .unknown: break
            }
        case .batchRead(let read):
            guard case .reading(let after, let commits) = head else { break }
            received(read, after: after, commits: commits, now: now, into: &actions)
        case .readFailed:
            head = .unknown
            stallUntil = now.instant + .seconds(1)
        case .response(let id, let decision, let jitter):
            guard let batch = inFlight.removeValue(forKey: id) else { break }
            lookAgain()
            answered(batch, decision, jitter: jitter, now: now, into: &actions)
        case .written(let id):
            writes.removeValue(forKey: id)
            lookAgain()
        case .writeFailed(let id):
            switch writes[id] {
            case .removal(let first, let last, _):
                writes[id] = .removal(first: first, last: last, .failed)
            case .deadLetter(let batch):
                writes.removeValue(forKey: id)
                queueForResend(batch)
            case nil:
                break
            }
            stallUntil = now.instant + .seconds(1)
        case .timerFired:
            break
        case .flushRequested:
            skipWaits()
            force = true
        case .reload(let fresh):
            settings = fresh
            // A paused or backing-off delivery tries the new endpoint and key at once.
            retryAt = nil
            if case .partial = head { head = .unknown }
        case .drainRequested(let deadline):
            // One immediate attempt even mid-backoff: the upstream may be back.
            skipWaits()
            force = true
            drainDeadline = deadline
        case .stop:
            isStopped = true
            actions.append(.wake(at: nil))
            return actions
        }
        evaluate(now, into: &actions)
        return actions
    }

    // MARK: - Deciding

    private var flushInterval: Duration { .milliseconds(settings.batch.flushIntervalMs) }

    /// Sends what may be sent now, asks for a read when the head must be looked at, and says when
    /// to wake next.
    private mutating func evaluate(_ now: Now, into actions: inout [Action]) {
        guard running, !isStopped else { return }
        defer { scheduleWake(into: &actions) }
        if let stall = stallUntil {
            guard now.instant >= stall else { return }
            stallUntil = nil
        }
        var holding = false
        for (id, write) in writes.sorted(by: { $0.key < $1.key }) {
            guard case .removal(let first, let last, let removal) = write, removal != .submitted else { continue }
            holding = true
            if removal == .failed {
                writes[id] = .removal(first: first, last: last, .resubmitted)
                actions.append(.remove(id, first: first, last: last, status: status))
            }
        }
        if holding { return }
        if let retryAt {
            guard now.instant >= retryAt else { return }
            self.retryAt = nil
        }
        while inFlight.count < settings.delivery.maxInFlight {
            if !resend.isEmpty {
                send(resend.removeFirst(), into: &actions)
                continue
            }
            switch head {
            case .reading:
                return
            case .empty(let pollAt) where now.instant < pollAt:
                return
            case .partial(let count, let due) where now.instant < due && count < settings.batch.maxEvents:
                return
            default:
                // Nothing handed out: read from the true head, so nothing can be skipped.
                if inFlight.isEmpty && writes.isEmpty { cursor = 0 }
                head = .reading(after: cursor, commits: 0)
                actions.append(
                    .read(after: cursor, maxEvents: settings.batch.maxEvents, maxBytes: settings.batch.maxBytes)
                )
                return
            }
        }
    }

    private mutating func received(
        _ read: QueueHead,
        after: Int64,
        commits: Int,
        now: Now,
        into actions: inout [Action]
    ) {
        guard let first = read.events.first, let last = read.events.last else {
            let nothingOut = inFlight.isEmpty && resend.isEmpty && writes.isEmpty
            guard commits == 0, nothingOut ? after == 0 : true else {
                // Events came meanwhile, or the last batch out has just gone: look from the true head.
                head = .unknown
                return
            }
            head = .empty(pollAt: now.instant + max(.seconds(1), flushInterval))
            if nothingOut {
                // The queue is empty and nothing is out.
                force = false
                if drainDeadline != nil { finishDrain(drained: true, into: &actions) }
            }
            return
        }
        guard stallUntil == nil, retryAt == nil, !holdingForRemoval else {
            // A failure came in while the read was out: this batch waits like everything else.
            head = .unknown
            return
        }
        let due = arrivals.learned(first.id, orMark: last.id, at: now.instant) + flushInterval
        guard read.isFull || force || drainDeadline != nil || now.instant >= due else {
            head = .partial(count: read.events.count + commits, due: due)
            return
        }
        head = .unknown
        cursor = last.id
        arrivals.forget(through: cursor)
        send(makeBatch(read.events), into: &actions)
    }

    private var holdingForRemoval: Bool {
        writes.values.contains { if case .removal(_, _, let removal) = $0 { removal != .submitted } else { false } }
    }

    private mutating func answered(
        _ batch: Batch,
        _ decision: DeliveryDecision,
        jitter: Double,
        now: Now,
        into actions: inout [Action]
    ) {
        switch decision {
        case .delivered:
            status.state = .ok
            status.lastSuccessAt = now.wall
            status.attempts = 0
            status.nextAttemptAt = nil
            writes[batch.id] = .removal(first: batch.firstID, last: batch.lastID, .submitted)
            actions.append(.remove(batch.id, first: batch.firstID, last: batch.lastID, status: status))
        case .retry(let after, let fault):
            let delay = settings.backoff.delay(attempt: status.attempts + 1, retryAfter: after, unit: jitter)
            scheduleRetry(batch, fault: fault, delay: delay, state: .retrying, now: now, into: &actions)
        case .pause(let reason, let fault):
            let state: DeliveryStatus.State = reason == .unauthorized ? .unauthorized : .misconfigured
            scheduleRetry(
                batch,
                fault: fault,
                delay: settings.delivery.retryMaxSeconds,
                state: state,
                now: now,
                into: &actions
            )
        case .split(let fault):
            actions.append(.splitting(fault: fault, eventCount: batch.events.count))
            let middle = batch.events.count / 2
            queueForResend(makeBatch(Array(batch.events[..<middle])))
            queueForResend(makeBatch(Array(batch.events[middle...])))
        case .deadLetter(let fault):
            guard let event = batch.events.first else { return }
            status.lastError = .init(status: fault.status, message: fault.message, at: now.wall)
            writes[batch.id] = .deadLetter(batch)
            actions.append(.deadLetter(batch.id, event, fault, at: now.wall, status: status))
        }
    }

    private mutating func scheduleRetry(
        _ batch: Batch,
        fault: DeliveryFault,
        delay: Double,
        state: DeliveryStatus.State,
        now: Now,
        into actions: inout [Action]
    ) {
        var batch = batch
        batch.attempts += 1
        queueForResend(batch)
        status.attempts += 1
        status.state = state
        status.lastError = .init(status: fault.status, message: fault.message, at: now.wall)
        status.nextAttemptAt = now.wall + delay
        retryAt = now.instant + .seconds(delay)
        actions.append(.persist(status))
        actions.append(.retryScheduled(fault: fault, attempt: status.attempts, delay: delay, state: state))
    }

    private mutating func send(_ batch: Batch, into actions: inout [Action]) {
        inFlight[batch.id] = batch
        actions.append(.send(batch))
    }

    private mutating func makeBatch(_ events: [QueuedEvent]) -> Batch {
        nextBatchID += 1
        return Batch(id: BatchID(raw: nextBatchID), events: events)
    }

    /// Keeps `resend` in queue order, so retried and split batches leave oldest first.
    private mutating func queueForResend(_ batch: Batch) {
        let index = resend.firstIndex { $0.firstID > batch.firstID } ?? resend.endIndex
        resend.insert(batch, at: index)
    }

    /// After an answer or a removal the head may have changed (or emptied): read it again.
    private mutating func lookAgain() {
        switch head {
        case .empty, .partial: head = .unknown
        case .unknown, .reading: break
        }
    }

    private mutating func skipWaits() {
        retryAt = nil
        stallUntil = nil
        lookAgain()
    }

    private mutating func finishDrain(drained: Bool, into actions: inout [Action]) {
        drainDeadline = nil
        isStopped = true
        lastWake = nil
        actions.append(.wake(at: nil))
        actions.append(.drainFinished(drained: drained))
    }

    private mutating func scheduleWake(into actions: inout [Action]) {
        var wake = drainDeadline
        func consider(_ instant: Instant?) {
            guard let instant else { return }
            wake = wake.map { min($0, instant) } ?? instant
        }
        if stallUntil != nil || retryAt != nil {
            consider(stallUntil)
            consider(retryAt)
        } else {
            switch head {
            case .empty(let pollAt): consider(pollAt)
            case .partial(_, let due): consider(due)
            case .unknown, .reading: break
            }
        }
        guard wake != lastWake else { return }
        lastWake = wake
        actions.append(.wake(at: wake))
    }
}
