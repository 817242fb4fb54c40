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
    /// `log`: the request for the delivery log of `modactl trace` (events only).
    func removal(ids: [Int64], through: Int64, status: DeliveryStatus, log: DeliveryRecord?) -> QueueWrite
    /// The write moving item `id` to the dead letters, or nil when it is no longer queued;
    /// `latency`: the refused request's, for the delivery log.
    func deadLetter(
        id: Int64,
        fault: DeliveryFault,
        at time: Double,
        status: DeliveryStatus,
        latency: Double?
    ) throws(QueueError)
        -> QueueWrite?
    func statusWrite(_ status: DeliveryStatus) -> QueueWrite
    func readStatus() throws(QueueError) -> DeliveryStatus
    func queuedCount() -> Int
}

/// One request's body and its `Content-Type`.
struct OutgoingRequest {
    var body: [UInt8]
    var contentType: String
    /// Events only: the request's ids by conversation, for the delivery log.
    var groups: [DeliveryRecord.Group] = []
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
        // The conversation of each event, for the delivery log: a scan of the body's top level up to
        // `conversation_id`, while the rows are at hand.
        let groups = DeliveryRecord.groups(
            ids: events.map(\.id),
            conversations: events.map { ConversationKey.of(event: $0.body) }
        )
        return OutgoingRequest(
            body: RequestBody.encode(events.lazy.map(\.body)),
            contentType: "application/json",
            groups: groups
        )
    }

    func endpoint(_ settings: DeliverySettings) -> String { settings.endpoint }

    func classify(_ result: UploadResult, itemCount: Int) -> DeliveryDecision {
        ResponseClassifier.classify(result, eventCount: itemCount)
    }

    func removal(ids: [Int64], through: Int64, status: DeliveryStatus, log: DeliveryRecord?) -> QueueWrite {
        .markDelivered(ids: ids, through: through, status: status, log: log)
    }

    func deadLetter(
        id: Int64,
        fault: DeliveryFault,
        at time: Double,
        status: DeliveryStatus,
        latency: Double?
    ) throws(QueueError)
        -> QueueWrite?
    {
        try reader.events(ids: [id]).first.map { event in
            let log = DeliveryRecord(
                at: time,
                status: fault.status ?? 0,
                requestId: fault.requestId,
                latency: latency,
                message: fault.message,
                groups: [.init(conversation: ConversationKey.of(event: event.body), ids: [event.id])]
            )
            return .deadLetter(event, fault: fault, at: time, status: status, log: log)
        }
    }

    func statusWrite(_ status: DeliveryStatus) -> QueueWrite { .status(status) }

    func readStatus() throws(QueueError) -> DeliveryStatus { try reader.readStatus() }

    func queuedCount() -> Int { (try? reader.counters().queuedEvents) ?? 0 }
}
