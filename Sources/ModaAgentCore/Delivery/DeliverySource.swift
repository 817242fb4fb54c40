import Atomics
import NIOCore

/// What a `DeliveryDriver` needs of the queue it delivers, so one driver and one state machine
/// serve both queues: events (`EventSource`) and trace exports (`TraceSource`). Called only on
/// the driver's serial queue. What differs only by the queue's kind (its status row, its count)
/// is said once, in the extension below.
protocol DeliverySource {
    /// Which queue: the `queue` label of the delivery metrics, and the logs' words.
    var kind: DeliveryQueue { get }
    /// Delivery's own connection to the queue.
    var reader: QueueStore { get }

    func lastID() throws(QueueError) -> Int64
    func scan(after: Int64, limit: Int) throws(QueueError) -> [ScannedEvent]
    /// The request for these ids (those still queued), or nil when none is; `spare` is a buffer
    /// of an earlier request the body may be written into; `kept`, the bodies of recent commits
    /// to write it from instead of the rows when they hold every id.
    func request(
        ids: [Int64],
        spare: consuming ByteBuffer,
        kept: borrowing RecentBodies
    ) throws(QueueError)
        -> OutgoingRequest?
    func endpoint(_ settings: DeliverySettings) -> String
    func classify(_ result: UploadResult, itemCount: Int) -> DeliveryDecision

    /// The write recording a delivered batch; every item up to `through` is finished, so the
    /// queue may be cut there (events are; trace exports are removed by id, `through` unused).
    /// `log`: the request for the delivery log of `modactl trace` (events only).
    func removal(ids: [Int64], through: Int64, status: DeliveryStatus, log: DeliveryRecord?) -> QueueWrite
    /// The write moving item `id` to the dead letters, or nil when it is no longer queued.
    func deadLetter(id: Int64, _ verdict: DeadLetterVerdict) throws(QueueError) -> QueueWrite?
}

extension DeliverySource {
    func statusWrite(_ status: DeliveryStatus) -> QueueWrite {
        kind == .events ? .status(status) : .traceStatus(status)
    }

    func readStatus() throws(QueueError) -> DeliveryStatus {
        kind == .events ? try reader.readStatus() : try reader.readTraceStatus()
    }

    /// What waits in this source's queue, from the writer's published levels.
    func queuedCount(in levels: QueueLevels) -> Int {
        kind == .events ? levels.queuedEvents : levels.queuedExports
    }

    /// Closes the queue connection; called once, after the driver has stopped.
    func close() { reader.close() }
}

/// Why and when an item is dead-lettered, and the status recorded with it.
struct DeadLetterVerdict {
    var fault: DeliveryFault
    var time: Double
    var status: DeliveryStatus
    /// The refused request's latency, for the delivery log.
    var latency: Double?
}

/// One request's body and its `Content-Type`.
struct OutgoingRequest {
    var body: ByteBuffer
    var contentType: String
    /// Events only: the request's ids by conversation, for the delivery log.
    var groups: [DeliveryRecord.Group] = []
}

/// The events queue: `{"events":[...]}` spliced from the stored events, to `endpoint` (docs/operating.md).
struct EventSource: DeliverySource {
    let reader: QueueStore
    /// The writer's mark of events dropped for room (`GroupCommit`): no kept body at or below it is sent.
    var droppedThrough = ManagedAtomic<Int64>(0)

    var kind: DeliveryQueue { .events }

    func lastID() throws(QueueError) -> Int64 { try reader.lastEventID() }

    func scan(after: Int64, limit: Int) throws(QueueError) -> [ScannedEvent] {
        try reader.scan(after: after, limit: limit)
    }

    func request(
        ids: [Int64],
        spare: consuming ByteBuffer,
        kept: borrowing RecentBodies
    ) throws(QueueError)
        -> OutgoingRequest?
    {
        // Consumed, not copied: a second reference would make `clear()` copy the buffer (`SpareBodies`).
        var buffer = consume spare
        let dropped = droppedThrough.load(ordering: .acquiring)
        let rows: QueueStore.RequestRows
        if let fromMemory = kept.requestBody(ids: ids, droppedThrough: dropped, spare: &buffer) {
            rows = fromMemory
        } else if let read = try reader.requestBody(ids: ids, spare: consume buffer) {
            rows = read
        } else {
            return nil
        }
        return OutgoingRequest(
            body: rows.body,
            contentType: "application/json",
            groups: DeliveryRecord.groups(ids: rows.ids, conversations: rows.conversations)
        )
    }

    func endpoint(_ settings: DeliverySettings) -> String { settings.endpoint }

    func classify(_ result: UploadResult, itemCount: Int) -> DeliveryDecision {
        ResponseClassifier.classify(result, eventCount: itemCount)
    }

    func removal(ids: [Int64], through: Int64, status: DeliveryStatus, log: DeliveryRecord?) -> QueueWrite {
        .markDelivered(ids: ids, through: through, status: status, log: log)
    }

    func deadLetter(id: Int64, _ verdict: DeadLetterVerdict) throws(QueueError) -> QueueWrite? {
        try reader.events(ids: [id]).first.map { event in
            let log = DeliveryRecord(
                at: verdict.time,
                status: verdict.fault.status ?? 0,
                requestId: verdict.fault.requestId,
                latency: verdict.latency,
                message: verdict.fault.message,
                groups: [.init(conversation: ConversationKey.of(event: event.body), ids: [event.id])]
            )
            return .deadLetter(event, fault: verdict.fault, at: verdict.time, status: verdict.status, log: log)
        }
    }
}
