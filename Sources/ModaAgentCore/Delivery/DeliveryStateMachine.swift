/// Every delivery decision, as a value: events in, actions out, no I/O and no clock of its own.
///
///     commits ─┐                         ┌─ scan the head after id N
///     scans   ─┤                         ├─ send batch B (its ids: read, encode, post)
///     replies ─┼─▶  DeliveryStateMachine ┼─ remove B / dead-letter e / persist status
///     timer   ─┤    (struct, Sendable)   ├─ wake me at T
///     flush, reload, drain ─┘            └─ drain finished
///
/// Lanes give concurrency with order where it matters: a scan sorts the head into lanes by
/// conversation (`ConversationKey`, lane 0 for events without one), each lane has at most one
/// batch out, and up to `AdaptiveConcurrency.limit` lanes send at once. Events of a conversation
/// therefore leave in queue order whatever is retried or split; with one lane
/// (`delivery.maxInFlight` 1) the whole queue does.
///
/// Waits (flush interval, backoff, pause, drain deadline) are instants of the monotonic clock
/// passed in with each event, so a stepped wall clock cannot stretch or cut them; wall-clock time
/// is only written into the status an operator reads. Batches are ids: their rows are read when
/// sent, so memory holds at most what is in flight plus a bounded window of scanned ids. A
/// delivered batch's removal also says how far the queue may be cut from its head
/// (`finishedThrough`): lanes finish out of queue order, and only the head is deleted.
public struct DeliveryStateMachine: Sendable {
    public typealias Instant = ContinuousClock.Instant

    /// What the machine knows of the queue past the last scanned id.
    enum Scan: Equatable {
        /// Maybe more: scan while the window has room.
        case unknown
        case scanning(after: Int64, limit: Int)
        /// The last scan reached the end. Scan again when commits make it worth it, or at
        /// `pollAt` for rows another process added (`modactl dead-letters replay`).
        case caughtUp(pollAt: Instant)
    }

    /// Writes handed to the queue's writer; a delivered batch stays here until its removal commits.
    enum PendingWrite: Equatable {
        case removal(Batch, through: Int64, Removal)
        case deadLetter(Batch)
    }

    /// A removal that failed once (full disk) holds every send until it commits: a delivered
    /// batch still in the queue would otherwise be read and sent again.
    enum Removal: Equatable {
        case submitted, failed, resubmitted
    }

    struct Flight: Equatable {
        var batch: Batch
        var sentAt: Instant
    }

    // The state below is internal, not private, only so that the machine's own extensions
    // (+Scan, +Responses) can write it; nothing outside the machine does.
    public private(set) var settings: DeliverySettings
    public internal(set) var status: DeliveryStatus
    var lanes: [DeliveryLane]
    var scan = Scan.unknown
    var inFlight: [BatchID: Flight] = [:]
    var writes: [BatchID: PendingWrite] = [:]
    var concurrency: AdaptiveConcurrency
    /// The last queue id sorted into a lane; scans continue after it.
    var scanned: Int64 = 0
    /// The queue is asked to cut its head through this id (`QueueWrite.markDelivered`).
    var prunedThrough: Int64 = 0
    /// The newest id known to be queued (start-up, commits, scans).
    var newest: Int64 = 0
    /// When the machine learned of each stretch of ids (monotonic), for the flush interval.
    var arrivals = ArrivalMarks()
    /// No send before this instant: a backoff or a pause, for every lane (the upstream is one).
    var retryAt: Instant?
    /// When the current run of failures began: failures of batches sent before it are the same
    /// outage seen again and do not lengthen the backoff.
    var failingSince: Instant?
    /// No activity before this instant: the queue could not be read or written.
    private var stallUntil: Instant?
    /// `flush`: partial batches go at once, those of the events queued when it was asked (through
    /// `forceThrough`; nil until the scan the flush starts has reached the queue's end, which finds rows
    /// another process added). Events queued after it wait their flush interval as usual: under a steady
    /// stream the queue is never seen empty, and a flush that lasted until then sent every commit on its
    /// own, a request and a removal per line (measured: 17 against 7.5 µs of CPU per event at 2k lines/s).
    var force = false
    var forceThrough: Int64?
    var drainDeadline: Instant?
    private var running = false
    public private(set) var isStopped = false
    private var lastWake: Instant?
    private var nextBatchID: UInt64 = 0

    /// `stored` is the status of the previous run; a pause or backoff is not carried over: a
    /// restart tries at once, at a concurrency of 1.
    public init(settings: DeliverySettings, stored: DeliveryStatus) {
        self.settings = settings
        var status = stored
        status.nextAttemptAt = nil
        status.attempts = 0
        status.concurrency = 1
        if status.state != .ok { status.state = .idle }
        self.status = status
        lanes = Array(repeating: DeliveryLane(), count: max(1, settings.delivery.maxInFlight))
        concurrency = AdaptiveConcurrency(maximum: settings.delivery.maxInFlight)
    }

    /// Requests allowed in flight right now.
    public var concurrencyLimit: Int { concurrency.limit }

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
            newest = lastQueuedID
            actions.append(.persist(status))
        case .committed(_, let lastID, let added):
            arrivals.record(through: lastID, at: now.instant, interval: flushInterval)
            newest = max(newest, lastID)
            take(added)
        case .scanned(let events):
            guard case .scanning(let after, let limit) = scan else { break }
            received(events, after: after, limit: limit, now: now, into: &actions)
        case .scanFailed:
            scan = .unknown
            stallUntil = now.instant + .seconds(1)
        case .response(let id, let decision, let jitter):
            guard let flight = inFlight.removeValue(forKey: id) else { break }
            lanes[flight.batch.lane].busy = nil
            answered(flight, decision, jitter: jitter, now: now, into: &actions)
        case .unreadable(let id):
            // The rows could not be read to send: the batch waits its turn again.
            guard let flight = inFlight.removeValue(forKey: id) else { break }
            lanes[flight.batch.lane].busy = nil
            lanes[flight.batch.lane].queueForResend(flight.batch)
            stallUntil = now.instant + .seconds(1)
        case .vanished(let id):
            // Its rows left the queue meanwhile (dropOldest): nothing to send or remove.
            guard let flight = inFlight.removeValue(forKey: id) else { break }
            lanes[flight.batch.lane].busy = nil
        case .written(let id):
            if case .deadLetter(let batch) = writes.removeValue(forKey: id) { lanes[batch.lane].busy = nil }
        case .writeFailed(let id):
            switch writes[id] {
            case .removal(let batch, let through, _):
                writes[id] = .removal(batch, through: through, .failed)
            case .deadLetter(let batch):
                writes.removeValue(forKey: id)
                lanes[batch.lane].busy = nil
                lanes[batch.lane].queueForResend(batch)
            case nil:
                break
            }
            stallUntil = now.instant + .seconds(1)
        case .timerFired:
            lastWake = nil
        case .flushRequested:
            skipWaits()
            force = true
            forceThrough = nil
        case .reload(let fresh):
            settings = fresh
            concurrency.setMaximum(fresh.delivery.maxInFlight)
            status.concurrency = concurrency.limit
            // A paused or backing-off delivery tries the new endpoint and key at once.
            retryAt = nil
            if case .caughtUp = scan { scan = .unknown }
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

    var flushInterval: Duration { .milliseconds(settings.batch.flushIntervalMs) }
    var maxEvents: Int { settings.batch.maxEvents }
    private var maxBytes: Int { settings.batch.maxBytes }

    /// Nothing handed out, waiting or being written: the queue holds only what was never scanned.
    var nothingOut: Bool {
        inFlight.isEmpty && writes.isEmpty && lanes.allSatisfy(\.isEmpty)
    }

    /// Scanned ids held at most, so memory does not grow with the backlog: every lane a full
    /// batch ready and one more on the way.
    var window: Int { 2 * maxEvents * lanes.count }

    /// Scans when needed, then sends what may be sent now, and says when to wake next.
    private mutating func evaluate(_ now: Now, into actions: inout [Action]) {
        guard running, !isStopped else { return }
        defer { scheduleWake(now, into: &actions) }
        if let stall = stallUntil {
            guard now.instant >= stall else { return }
            stallUntil = nil
        }
        var holding = false
        // Sorted only when some removal waits on the writer: sorting on every evaluation was 0.6 % of the
        // daemon's CPU end to end (perf, the 1M run), for a dictionary that is almost always all submitted.
        let waitingRemoval = writes.values.contains {
            if case .removal(_, _, let removal) = $0 { removal != .submitted } else { false }
        }
        for (id, write) in waitingRemoval ? writes.sorted(by: { $0.key < $1.key }) : [] {
            guard case .removal(let batch, let through, let removal) = write, removal != .submitted else { continue }
            holding = true
            if removal == .failed {
                writes[id] = .removal(batch, through: through, .resubmitted)
                actions.append(.remove(id, ids: batch.ids, through: through, status: status))
            }
        }
        if holding { return }
        if let retryAt {
            guard now.instant >= retryAt else { return }
            self.retryAt = nil
        }
        adoptLaneCount()
        if scanWanted(now) {
            if nothingOut {
                // Delivered events still queued above the last cut go first: a scan from the head
                // would find them.
                if prunedThrough < scanned {
                    cut(through: scanned, into: &actions)
                    return
                }
                // Nothing handed out: scan from the true head, so nothing can be skipped.
                scanned = 0
            }
            let limit = min(window - waitingCount, maxEvents * lanes.count)
            scan = .scanning(after: scanned, limit: limit)
            actions.append(.scan(after: scanned, limit: limit))
            return
        }
        while inFlight.count < concurrency.limit, let lane = nextLane(now) {
            let batch: Batch
            if let resend = lanes[lane].takeResend() {
                batch = resend
            } else {
                nextBatchID += 1
                batch = Batch(
                    id: BatchID(raw: nextBatchID),
                    lane: lane,
                    ids: lanes[lane].takeBatch(maxEvents: maxEvents, maxBytes: maxBytes)
                )
            }
            lanes[lane].busy = batch.id
            inFlight[batch.id] = Flight(batch: batch, sentAt: now.instant)
            actions.append(.send(batch))
        }
        forgetArrivals()
    }

    var waitingCount: Int { lanes.reduce(0) { $0 + $1.waiting.count } }

    /// Every id up to this one is delivered, dead-lettered or gone, so the queue may be cut there:
    /// below the oldest event still waiting, to be resent, in flight or being dead-lettered, and
    /// never past what was scanned.
    var finishedThrough: Int64 {
        var oldest = scanned + 1
        for lane in lanes {
            if let id = lane.waiting.first?.id { oldest = min(oldest, id) }
            for batch in lane.resend { oldest = min(oldest, batch.firstID) }
        }
        for flight in inFlight.values { oldest = min(oldest, flight.batch.firstID) }
        for case .deadLetter(let batch) in writes.values { oldest = min(oldest, batch.firstID) }
        return oldest - 1
    }

    /// Cuts the queue's head through `through` with nothing newly delivered: a removal of no ids.
    private mutating func cut(through: Int64, into actions: inout [Action]) {
        let batch = makeBatch(lane: 0, [])
        prunedThrough = through
        writes[batch.id] = .removal(batch, through: through, .submitted)
        actions.append(.remove(batch.id, ids: [], through: through, status: status))
    }

    /// The free lane to send from next: one with a batch to resend, a full batch, or a partial
    /// one that is due; the oldest first.
    private func nextLane(_ now: Now) -> Int? {
        var best: (lane: Int, id: Int64)?
        for index in lanes.indices where lanes[index].busy == nil {
            let lane = lanes[index]
            let ready =
                !lane.resend.isEmpty
                || (!lane.waiting.isEmpty
                    && (lane.isFull(maxEvents: maxEvents, maxBytes: maxBytes) || isForced(lane)
                        || drainDeadline != nil || isDue(index, now)))
            guard ready, let id = lane.nextID else { continue }
            if best.map({ id < $0.id }) ?? true { best = (index, id) }
        }
        return best?.lane
    }

    /// Whether `flush` sends this lane's partial batch at once: it holds events queued before the flush.
    func isForced(_ lane: DeliveryLane) -> Bool {
        guard force, let first = lane.waiting.first else { return false }
        return forceThrough.map { first.id <= $0 } ?? true
    }

    func isDue(_ lane: Int, _ now: Now) -> Bool {
        guard lanes[lane].busy == nil, let first = lanes[lane].waiting.first else { return false }
        return (arrivals.knownAt(first.id) ?? now.instant) + flushInterval <= now.instant
    }

    private func dueAt(_ lane: Int) -> Instant? {
        guard let first = lanes[lane].waiting.first else { return nil }
        return arrivals.knownAt(first.id).map { $0 + flushInterval }
    }

    mutating func makeBatch(lane: Int, _ ids: [Int64]) -> Batch {
        nextBatchID += 1
        return Batch(id: BatchID(raw: nextBatchID), lane: lane, ids: ids)
    }

    /// The lane count follows `delivery.maxInFlight`, but changes only when every lane is empty:
    /// moving a conversation to another lane while its batch is out could reorder it. Until
    /// then nothing new is scanned, so the lanes empty.
    var laneTarget: Int { max(1, settings.delivery.maxInFlight) }

    private mutating func adoptLaneCount() {
        guard lanes.count != laneTarget, inFlight.isEmpty, lanes.allSatisfy(\.isEmpty) else { return }
        lanes = Array(repeating: DeliveryLane(), count: laneTarget)
    }

    /// Arrival marks are needed only from the oldest id still waiting in a lane or unscanned.
    private mutating func forgetArrivals() {
        let oldest = lanes.compactMap { $0.waiting.first?.id }.min() ?? (scanned + 1)
        arrivals.forget(through: oldest - 1)
    }

    private mutating func skipWaits() {
        retryAt = nil
        stallUntil = nil
        if case .caughtUp = scan { scan = .unknown }
    }

    mutating func finishDrain(drained: Bool, into actions: inout [Action]) {
        drainDeadline = nil
        isStopped = true
        lastWake = nil
        actions.append(.wake(at: nil))
        actions.append(.drainFinished(drained: drained))
    }

    private mutating func scheduleWake(_ now: Now, into actions: inout [Action]) {
        var wake = drainDeadline
        // Only the future: what is due now and still waiting waits for a slot or window room,
        // which an answer or a removal brings, not the timer.
        func consider(_ instant: Instant?) {
            guard let instant, instant > now.instant else { return }
            wake = wake.map { min($0, instant) } ?? instant
        }
        if stallUntil != nil || retryAt != nil {
            consider(stallUntil)
            consider(retryAt)
        } else if writes.values.allSatisfy({ if case .removal(_, _, let r) = $0 { r == .submitted } else { true } }) {
            if case .caughtUp(let pollAt) = scan {
                consider(pollAt)
                if newest > scanned { consider(arrivals.knownAt(scanned + 1).map { $0 + flushInterval }) }
            }
            if inFlight.count < concurrency.limit {
                for lane in lanes.indices where lanes[lane].busy == nil {
                    if let due = dueAt(lane), due > now.instant { consider(due) }
                }
            }
        }
        guard wake != lastWake else { return }
        lastWake = wake
        actions.append(.wake(at: wake))
    }
}
