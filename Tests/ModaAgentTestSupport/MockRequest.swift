/// A request the mock server received, recorded in full.
public struct MockRequest: Sendable {
    /// 1-based arrival order across the server's lifetime.
    public let number: Int
    public let method: String
    /// The request target, e.g. `/v1/ingest`.
    public let path: String
    public let headers: MockHeaders
    public let body: [UInt8]
    /// The raw JSON of each element of the body's `"events"` array; empty when the body has none.
    public let eventsJSON: [String]

    public init(number: Int, method: String, path: String, headers: MockHeaders, body: [UInt8]) {
        self.number = number
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.eventsJSON = MockEventScanner.events(in: body) ?? []
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// The whole body parsed (nil when it is not JSON).
    public var json: MockJSON? { MockJSON.parse(body) }

    public var eventCount: Int { eventsJSON.count }

    public var events: [MockEvent] {
        eventsJSON.enumerated().map { MockEvent(index: $0.offset, raw: $0.element) }
    }

    /// A top-level field of event `index`, or nil when either is missing.
    public func field(_ name: String, ofEvent index: Int) -> MockJSON? {
        guard eventsJSON.indices.contains(index) else { return nil }
        return MockJSON.parse(eventsJSON[index])?[name]
    }
}
