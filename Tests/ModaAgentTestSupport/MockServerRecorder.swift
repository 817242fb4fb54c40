/// The mock server's shared, lock-protected state: the current behaviour and everything
/// received. Connection handlers on the event loop and test tasks both use it.
final class MockServerRecorder: Sendable {
    private struct State {
        var behavior: MockBehavior = .alwaysSuccess
        var requests: [MockRequest] = []
        var deliveredEvents: [String] = []
        var connectionCount = 0
        var nextNumber = 1
    }

    private let state = MockLocked(State())

    func setBehavior(_ behavior: MockBehavior) {
        state.withLock { $0.behavior = behavior }
    }

    /// Records a complete request and returns it, numbered, with the behaviour to answer it.
    func receive(method: String, path: String, headers: MockHeaders, body: [UInt8]) -> (MockRequest, MockBehavior) {
        let number = state.withLock { state in
            defer { state.nextNumber += 1 }
            return state.nextNumber
        }
        // Scan the body outside the lock: a 5 MB batch should not stall other connections.
        let request = MockRequest(number: number, method: method, path: path, headers: headers, body: body)
        let behavior = state.withLock { state in
            state.requests.append(request)
            return state.behavior
        }
        return (request, behavior)
    }

    func recordDelivered(_ request: MockRequest) {
        state.withLock { $0.deliveredEvents.append(contentsOf: request.eventsJSON) }
    }

    func connectionOpened() {
        state.withLock { $0.connectionCount += 1 }
    }

    var requests: [MockRequest] {
        state.withLock { state in state.requests.sorted { $0.number < $1.number } }
    }

    var requestCount: Int { state.withLock { $0.requests.count } }
    var deliveredEvents: [String] { state.withLock { $0.deliveredEvents } }
    var deliveredCount: Int { state.withLock { $0.deliveredEvents.count } }
    var connectionCount: Int { state.withLock { $0.connectionCount } }
}
