/// One event of a received batch: its raw JSON as sent, and a parsed view of it.
public struct MockEvent: Sendable {
    /// Position in the batch (`events[index]`).
    public let index: Int
    /// The event's JSON text exactly as it appeared in the request body.
    public let raw: String

    public init(index: Int, raw: String) {
        self.index = index
        self.raw = raw
    }

    /// The parsed event (parsed on each access: cheap for test-sized events, free when unused).
    public var json: MockJSON? { MockJSON.parse(raw) }

    /// A top-level field of the event, e.g. `event["conversation_id"] == "c1"`.
    public subscript(field: String) -> MockJSON? { json?[field] }
}
