/// An event or a trace export the API refused for good, with everything known about why.
public struct DeadLetter: Sendable, Equatable {
    /// Which queue it came from and goes back to on replay (`kind` in `dead-letters list --json`).
    public enum Kind: String, Sendable {
        case events
        case traces
    }

    public var id: Int64
    public var kind: Kind = .events
    public var eventID: Int64
    public var receivedAt: Double
    public var deadAt: Double
    public var status: Int
    public var error: String
    public var requestId: String?
    public var conversationId: String?
    public var preview: String?
    /// The event's JSON; for a trace export, its body as text when it is JSON, else empty.
    public var body: String
    /// A trace export's `Content-Type` and stored bytes (nil for events).
    public var contentType: String? = nil
    public var exportBody: [UInt8]? = nil
}
