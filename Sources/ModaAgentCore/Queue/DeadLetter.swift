/// An event the API refused for good, with everything known about why.
public struct DeadLetter: Sendable, Equatable {
    public var id: Int64
    public var eventID: Int64
    public var receivedAt: Double
    public var deadAt: Double
    public var status: Int
    public var error: String
    public var requestId: String?
    public var conversationId: String?
    public var preview: String?
    public var body: String
}
