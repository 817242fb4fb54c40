/// One event ready for the queue: the JSON the client sent, completed with the receive time and environment.
public struct PreparedEvent: Sendable, Equatable {
    /// The event's JSON exactly as it arrived (its original bytes/whitespace, unknown fields kept),
    /// plus `"timestamp"` and/or `"environment"` members inserted when absent.
    public var body: [UInt8]

    public init(body: [UInt8]) {
        self.body = body
    }
}
