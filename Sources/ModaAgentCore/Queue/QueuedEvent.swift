/// An event as delivery reads it from the queue.
public struct QueuedEvent: Sendable, Equatable {
    public var id: Int64
    public var receivedAt: Double
    public var body: [UInt8]
}

/// An event as delivery sorts it into a lane: its id, its stored size and its conversation
/// (`ConversationKey`), without its body.
public struct ScannedEvent: Sendable, Equatable {
    public var id: Int64
    public var bytes: Int
    public var conversation: UInt64
    /// Never batched with another item: a JSON trace export, which cannot be merged with others.
    public var travelsAlone: Bool

    public init(id: Int64, bytes: Int, conversation: UInt64, travelsAlone: Bool = false) {
        self.id = id
        self.bytes = bytes
        self.conversation = conversation
        self.travelsAlone = travelsAlone
    }
}
