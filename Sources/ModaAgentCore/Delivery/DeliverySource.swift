/// What a `DeliveryDriver` needs of the queue it delivers, so one driver and one state machine
/// serve both queues: events (`EventSource`) and trace exports (`TraceSource`). Called only on
/// the driver's serial queue.
protocol DeliverySource {
    /// `events` or `traces`: the `queue` label of the delivery metrics, and the logs' word.
    var queueName: String { get }
    /// What one queued item is called in logs: "event", "trace export".
    var itemName: String { get }

    func lastID() throws(QueueError) -> Int64
    func scan(after: Int64, limit: Int) throws(QueueError) -> [ScannedEvent]
    /// The request for these ids (those still queued), or nil when none is.
    func request(ids: [Int64]) throws(QueueError) -> OutgoingRequest?
    func endpoint(_ settings: DeliverySettings) -> String
    func classify(_ result: UploadResult, itemCount: Int) -> DeliveryDecision

    /// The write recording a delivered batch; every item up to `through` is finished, so the
    /// queue may be cut there (events are; trace exports are removed by id, `through` unused).
    func removal(ids: [Int64], through: Int64, status: DeliveryStatus) -> QueueWrite
    /// The write moving item `id` to the dead letters, or nil when it is no longer queued.
    func deadLetter(
        id: Int64,
        fault: DeliveryFault,
        at time: Double,
        status: DeliveryStatus
    ) throws(QueueError)
        -> QueueWrite?
    func statusWrite(_ status: DeliveryStatus) -> QueueWrite
    func readStatus() throws(QueueError) -> DeliveryStatus
    /// What waits in this source's queue, from the writer's published levels.
    func queuedCount(in levels: QueueLevels) -> Int
}

/// One request's body and its `Content-Type`.
struct OutgoingRequest {
    var body: [UInt8]
    var contentType: String
}

/// The events queue: `{"events":[...]}` spliced from the stored events, to `endpoint` (SPEC 5).
struct EventSource: DeliverySource {
    let reader: QueueStore

    var queueName: String { "events" }
    var itemName: String { "event" }

    func lastID() throws(QueueError) -> Int64 { try reader.lastEventID() }

    func scan(after: Int64, limit: Int) throws(QueueError) -> [ScannedEvent] {
        try reader.scan(after: after, limit: limit)
    }

    func request(ids: [Int64]) throws(QueueError) -> OutgoingRequest? {
        let events = try reader.events(ids: ids)
        if events.isEmpty { return nil }
        return OutgoingRequest(body: RequestBody.encode(events.lazy.map(\.body)), contentType: "application/json")
    }

    func endpoint(_ settings: DeliverySettings) -> String { settings.endpoint }

    func classify(_ result: UploadResult, itemCount: Int) -> DeliveryDecision {
        ResponseClassifier.classify(result, eventCount: itemCount)
    }

    func removal(ids: [Int64], through: Int64, status: DeliveryStatus) -> QueueWrite {
        .markDelivered(ids: ids, through: through, status: status)
    }

    func deadLetter(
        id: Int64,
        fault: DeliveryFault,
        at time: Double,
        status: DeliveryStatus
    ) throws(QueueError)
        -> QueueWrite?
    {
        try reader.events(ids: [id]).first.map { .deadLetter($0, fault: fault, at: time, status: status) }
    }

    func statusWrite(_ status: DeliveryStatus) -> QueueWrite { .status(status) }

    func readStatus() throws(QueueError) -> DeliveryStatus { try reader.readStatus() }

    func queuedCount(in levels: QueueLevels) -> Int { levels.queuedEvents }
}
