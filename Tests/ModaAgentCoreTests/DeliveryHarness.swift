@testable import ModaAgentCore

/// The monotonic and wall clocks of a state-machine test, moved by hand.
struct ManualClock {
    var instant = ContinuousClock.Instant.now
    var wall = 1_800_000_000.0

    var now: DeliveryStateMachine.Now { .init(instant: instant, wall: wall) }

    mutating func advance(by duration: Duration) {
        instant += duration
        wall += Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

/// The state machine's test bench: answers its reads from an in-memory queue, applies writes at once
/// (unless held), records sends and the wake asked for, and fires the timer when the manual clock
/// passes it, so thousands of seeded steps run in milliseconds. Nothing waits: time moves only
/// through `advance`. The real `DeliveryDriver` (its timer, reads, writes and posts) is tested on a
/// real queue in DeliveryDriverTests.
struct DeliveryHarness {
    typealias Machine = DeliveryStateMachine
    var machine: Machine
    var clock = ManualClock()
    var rows: [QueuedEvent] = []
    private var nextID: Int64 = 1
    /// Sends not answered yet, oldest first.
    var inFlight: [Machine.Batch] = []
    /// Every batch sent, as its event ids.
    var sent: [[Int64]] = []
    var wake: ContinuousClock.Instant?
    var actions: [Machine.Action] = []
    var failWrites = false
    var reads = 0
    /// Batches answered as delivered, in the order of their answers.
    var delivered: [[Int64]] = []
    /// Rows removed or dead-lettered, kept to name their conversation afterwards.
    var removed: [Int64: QueuedEvent] = [:]
    /// Commits carry their events, as the queue's writer announces them; off: only count and id.
    var announcesRows = false
    /// Undelivered rows a removal's cut would have deleted: must stay 0.
    var cutTooFar = 0
    /// Ids delivered, whether or not a cut has deleted their rows yet.
    var deliveredAside: Set<Int64> = []

    init(
        maxEvents: Int = 10,
        flushIntervalMs: Double = 1000,
        maxInFlight: Int = 1,
        retryInitialSeconds: Double = 1,
        retryMaxSeconds: Double = 30
    ) {
        machine = Machine(
            settings: Self.settings(
                maxEvents: maxEvents,
                flushIntervalMs: flushIntervalMs,
                maxInFlight: maxInFlight,
                retryInitialSeconds: retryInitialSeconds,
                retryMaxSeconds: retryMaxSeconds
            ),
            stored: DeliveryStatus()
        )
    }

    static func settings(
        maxEvents: Int = 10,
        flushIntervalMs: Double = 1000,
        maxInFlight: Int = 1,
        retryInitialSeconds: Double = 1,
        retryMaxSeconds: Double = 30,
        apiKey: String = "key"
    ) -> DeliverySettings {
        var config = AgentConfig()
        config.batch.maxEvents = maxEvents
        config.batch.flushIntervalMs = flushIntervalMs
        config.delivery.maxInFlight = maxInFlight
        config.delivery.retryInitialSeconds = retryInitialSeconds
        config.delivery.retryMaxSeconds = retryMaxSeconds
        return DeliverySettings(config: config, apiKey: apiKey)
    }

    /// Rows in the queue before delivery starts (or added by another process: no commit event).
    /// Without a conversation they all share lane 0.
    mutating func insert(_ count: Int, receivedAt: Double? = nil, conversation: (Int) -> String? = { _ in nil }) {
        for index in 0..<count {
            let body = conversation(index).map { #"{"conversation_id":"\#($0)","role":"user","message":"m"}"# } ?? "{}"
            rows.append(QueuedEvent(id: nextID, receivedAt: receivedAt ?? clock.wall, body: Array(body.utf8)))
            nextID += 1
        }
    }

    mutating func start() {
        handle(.started(lastQueuedID: rows.last?.id ?? 0))
    }

    /// The writer committed `count` new events.
    mutating func commit(_ count: Int, receivedAt: Double? = nil, conversation: (Int) -> String? = { _ in nil }) {
        let first = nextID
        insert(count, receivedAt: receivedAt, conversation: conversation)
        let added = announcesRows ? rows.filter { $0.id >= first }.map(Self.scanned) : []
        handle(.committed(count: count, lastID: nextID - 1, added: added))
    }

    /// The conversation of a row, as its body names it.
    func conversation(of id: Int64) -> String? {
        guard let row = rows.first(where: { $0.id == id }) ?? removed[id] else { return nil }
        let text = String(decoding: row.body, as: UTF8.self)
        guard let start = text.range(of: #""conversation_id":""#)?.upperBound else { return nil }
        return String(text[start...].prefix { $0 != "\"" })
    }

    /// Moves both clocks, firing the timer at each wake on the way.
    mutating func advance(by duration: Duration) {
        let target = clock.instant + duration
        while let due = wake, due <= target {
            clock.advance(by: due - clock.instant)
            wake = nil
            handle(.timerFired)
        }
        clock.advance(by: target - clock.instant)
    }

    /// Answers the oldest batch in flight (or the one at `index`).
    mutating func answer(_ decision: DeliveryDecision, jitter: Double = 1, at index: Int = 0) {
        guard inFlight.indices.contains(index) else { return }
        let batch = inFlight.remove(at: index)
        if case .delivered = decision { delivered.append(batch.ids) }
        handle(.response(batch.id, decision, jitter: jitter))
    }

    mutating func handle(_ event: Machine.Event) {
        var pending = machine.handle(event, at: clock.now)
        var index = 0
        while index < pending.count {
            let action = pending[index]
            index += 1
            actions.append(action)
            if let next = execute(action) { pending += machine.handle(next, at: clock.now) }
        }
    }

    private mutating func execute(_ action: Machine.Action) -> Machine.Event? {
        switch action {
        case .scan(let after, let limit):
            reads += 1
            return .scanned(Array(rows.filter { $0.id > after }.prefix(limit).map(Self.scanned)))
        case .send(let batch):
            let ids = Set(rows.map(\.id))
            guard batch.ids.contains(where: ids.contains) else { return .vanished(batch.id) }
            inFlight.append(batch)
            sent.append(batch.ids)
        case .wake(let instant):
            wake = instant
        case .remove(let id, let ids, let through, _):
            if failWrites { return .writeFailed(id) }
            // As the queue does it: rows up to `through` are deleted, the batch's others stay
            // (recorded as delivered) until a later cut passes them; a scan still finds them.
            deliveredAside.formUnion(ids)
            cutTooFar += rows.filter { $0.id <= through && !deliveredAside.contains($0.id) }.count
            for row in rows where row.id <= through { removed[row.id] = row }
            rows.removeAll { $0.id <= through }
            return .written(id)
        case .deadLetter(let id, let eventID, _, _, _):
            if failWrites { return .writeFailed(id) }
            for row in rows where row.id == eventID { removed[row.id] = row }
            rows.removeAll { $0.id == eventID }
            return .written(id)
        case .persist, .retryScheduled, .splitting, .drainFinished:
            break
        }
        return nil
    }

    private static func scanned(_ row: QueuedEvent) -> ScannedEvent {
        ScannedEvent(id: row.id, bytes: row.body.count, conversation: ConversationKey.of(event: row.body))
    }

    var drainResults: [Bool] {
        actions.compactMap { if case .drainFinished(let drained) = $0 { return drained } else { return nil } }
    }

    var deadLettered: [Int64] {
        actions.compactMap { if case .deadLetter(_, let event, _, _, _) = $0 { return event } else { return nil } }
    }

    /// Seconds from now to the wake asked for.
    var secondsToWake: Double? {
        wake.map { ($0 - clock.instant) }.map {
            Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18
        }
    }
}

extension DeliveryDecision {
    static let ok = DeliveryDecision.delivered(requestId: nil)
    static let unavailable = DeliveryDecision.retry(after: nil, fault: DeliveryFault(status: 503, message: "down"))
    static let badRequest = DeliveryDecision.split(fault: DeliveryFault(status: 400, message: "bad"))
    static let rejected = DeliveryDecision.deadLetter(fault: DeliveryFault(status: 400, message: "bad"))
}
