/// One lane of delivery: the events of the conversations hashed to it, in queue order, with at
/// most one batch out at a time. That one batch is what keeps a conversation's order: its next
/// batch leaves only once the previous one was answered, and a retried or split batch goes
/// before anything newer of the lane.
struct DeliveryLane: Sendable, Equatable {
    /// Sorted into this lane by a scan, not yet in a batch; ascending ids.
    private(set) var waiting: [ScannedEvent] = []
    private(set) var waitingBytes = 0
    /// How many waiting items travel alone: one is a full batch by itself.
    private var waitingAlone = 0
    /// Retried batches and halves of refused ones, oldest first: they go before anything waiting.
    private(set) var resend: [DeliveryStateMachine.Batch] = []
    /// The lane's batch out: a request, or the dead letter it became while that is written.
    var busy: DeliveryStateMachine.BatchID?

    var isEmpty: Bool { waiting.isEmpty && resend.isEmpty && busy == nil }

    /// The oldest id the lane would send next, to serve lanes oldest first.
    var nextID: Int64? { resend.first?.firstID ?? waiting.first?.id }

    mutating func append(_ event: ScannedEvent) {
        waiting.append(event)
        waitingBytes += event.bytes
        if event.travelsAlone { waitingAlone += 1 }
    }

    /// Whether the waiting events fill a batch (by count, by body size, or an item that travels alone).
    func isFull(maxEvents: Int, maxBytes: Int) -> Bool {
        waitingAlone > 0 || waiting.count >= maxEvents
            || RequestBody.size(eventCount: waiting.count, eventBytes: waitingBytes) > maxBytes
    }

    /// Keeps `resend` in queue order, so retried and split batches leave oldest first.
    mutating func queueForResend(_ batch: DeliveryStateMachine.Batch) {
        let index = resend.firstIndex { $0.firstID > batch.firstID } ?? resend.endIndex
        resend.insert(batch, at: index)
    }

    mutating func takeResend() -> DeliveryStateMachine.Batch? {
        resend.isEmpty ? nil : resend.removeFirst()
    }

    /// The ids of the next batch from the waiting events: at most `maxEvents`, a body of at most
    /// `maxBytes` (an event larger than that goes alone), and an item that travels alone by itself.
    mutating func takeBatch(maxEvents: Int, maxBytes: Int) -> [Int64] {
        var count = 0
        var bytes = 0
        var alone = 0
        for event in waiting {
            if count == maxEvents { break }
            if count > 0, event.travelsAlone { break }
            if count > 0, RequestBody.size(eventCount: count + 1, eventBytes: bytes + event.bytes) > maxBytes { break }
            count += 1
            bytes += event.bytes
            if event.travelsAlone {
                alone += 1
                break
            }
        }
        waitingAlone -= alone
        let ids = waiting.prefix(count).map(\.id)
        waiting.removeFirst(count)
        waitingBytes -= bytes
        return ids
    }
}
