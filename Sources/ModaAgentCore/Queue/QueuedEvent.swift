/// An event as delivery reads it from the queue.
public struct QueuedEvent: Sendable, Equatable {
    public var id: Int64
    public var receivedAt: Double
    public var body: [UInt8]
}

/// The head of the queue as one request can take it.
public struct QueueHead: Sendable {
    public var events: [QueuedEvent]
    /// True when the batch is at `maxEvents` or the next event would overflow `maxBytes`.
    public var isFull: Bool
}
