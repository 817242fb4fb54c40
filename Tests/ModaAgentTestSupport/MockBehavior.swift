/// How the mock server chooses a reply for each request. Install one with
/// `MockModaServer.respond(_:)`; it can be replaced at any time, even mid-test.
public struct MockBehavior: Sendable {
    public let reply: @Sendable (MockRequest) -> MockReply

    public init(_ reply: @escaping @Sendable (MockRequest) -> MockReply) {
        self.reply = reply
    }

    /// Accepts every batch (the default).
    public static var alwaysSuccess: MockBehavior { always(.success) }

    /// Answers every request with `reply`.
    public static func always(_ reply: MockReply) -> MockBehavior {
        MockBehavior { _ in reply }
    }

    /// Refuses a whole batch with `status` when any of its events matches `isBad`, naming the
    /// first such event in the message as the API does; accepts the others. Use it to test
    /// splitting: only the matching events should end up dead-lettered.
    public static func rejectingEvents(
        where isBad: @escaping @Sendable (MockEvent) -> Bool,
        status: Int = 400
    ) -> MockBehavior {
        MockBehavior { request in
            let bad = request.events.filter(isBad)
            guard let first = bad.first else { return .success }
            let more = bad.count > 1 ? " (and \(bad.count - 1) more)" : ""
            return .status(
                status,
                message: "events[\(first.index)]: rejected by the mock server\(more): \(excerpt(first.raw))",
                retryable: false
            )
        }
    }

    /// Answers the first `count` requests it sees with `reply`, then behaves like `next`.
    /// Counts from when it is installed, not from the server's start.
    public static func failing(
        first count: Int,
        with reply: MockReply,
        then next: MockBehavior = .alwaysSuccess
    )
        -> MockBehavior
    {
        replying(Array(repeating: reply, count: max(count, 0)), then: next)
    }

    /// Answers with `replies` in order, one per request, then behaves like `next`.
    public static func replying(_ replies: [MockReply], then next: MockBehavior = .alwaysSuccess) -> MockBehavior {
        let remaining = MockLocked(replies[...])
        return MockBehavior { request in
            remaining.withLock { $0.popFirst() } ?? next.reply(request)
        }
    }

    private static func excerpt(_ raw: String) -> String {
        raw.count > 120 ? String(raw.prefix(120)) + "…" : raw
    }
}
