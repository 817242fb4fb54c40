/// A request the mock server received, recorded in full (or, by a `MockRecording.countOnly`
/// server, only counted: no body, no events, just `eventCount`).
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
    /// How many elements the body's `"events"` array has.
    public let eventCount: Int

    public init(number: Int, method: String, path: String, headers: MockHeaders, body: [UInt8]) {
        self.number = number
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.eventsJSON = MockEventScanner.events(in: body) ?? []
        self.eventCount = eventsJSON.count
    }

    /// A request whose body was counted as it arrived and not kept.
    init(number: Int, method: String, path: String, headers: MockHeaders, countedEvents: Int) {
        self.number = number
        self.method = method
        self.path = path
        self.headers = headers
        self.body = []
        self.eventsJSON = []
        self.eventCount = countedEvents
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// The whole body parsed (nil when it is not JSON).
    public var json: MockJSON? { MockJSON.parse(body) }

    public var events: [MockEvent] {
        eventsJSON.enumerated().map { MockEvent(index: $0.offset, raw: $0.element) }
    }

    /// A top-level field of event `index`, or nil when either is missing.
    public func field(_ name: String, ofEvent index: Int) -> MockJSON? {
        guard eventsJSON.indices.contains(index) else { return nil }
        return MockJSON.parse(eventsJSON[index])?[name]
    }
}
