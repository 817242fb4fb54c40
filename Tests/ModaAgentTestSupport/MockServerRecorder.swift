/// The mock server's shared, lock-protected state: the current behaviour and everything
/// received. Connection handlers on the event loop and test tasks both use it.
final class MockServerRecorder: Sendable {
    private struct State {
        var behavior: MockBehavior = .alwaysSuccess
        var requests: [MockRequest] = []
        var requestCount = 0
        var deliveredEvents: [String] = []
        var deliveredCount = 0
        var deliveredTraces: [MockRequest] = []
        var tally = MockTally()
        var connectionCount = 0
        var nextNumber = 1
        /// Requests received and not yet answered, and the most there were at once since the last reset.
        var unanswered = 0
        var peakUnanswered = 0
    }

    let recording: MockRecording
    private let state = MockLocked(State())

    init(recording: MockRecording) {
        self.recording = recording
    }

    func setBehavior(_ behavior: MockBehavior) {
        state.withLock { $0.behavior = behavior }
    }

    /// Numbers a complete request, records it (unless only counting), and returns it with the
    /// behaviour to answer it.
    func receive(_ make: (_ number: Int) -> MockRequest) -> (MockRequest, MockBehavior) {
        let number = state.withLock { state in
            defer { state.nextNumber += 1 }
            return state.nextNumber
        }
        // Build (scan) the request outside the lock: a 5 MB batch should not stall other connections.
        let request = make(number)
        let keep = recording == .full
        let behavior = state.withLock { state in
            if keep { state.requests.append(request) }
            state.requestCount += 1
            state.unanswered += 1
            state.peakUnanswered = max(state.peakUnanswered, state.unanswered)
            return state.behavior
        }
        return (request, behavior)
    }

    /// The request was answered, confirming delivery or not.
    func recordAnswer(_ request: MockRequest, confirmsDelivery: Bool) {
        let keep = recording == .full
        state.withLock { state in
            state.tally.answered(delivered: confirmsDelivery ? request.eventCount : nil)
            guard confirmsDelivery else { return }
            if request.path.hasPrefix("/v1/traces") {
                state.deliveredTraces.append(request)
                return
            }
            state.deliveredCount += request.eventCount
            if keep { state.deliveredEvents.append(contentsOf: request.eventsJSON) }
        }
    }

    func requestFinished() {
        state.withLock { $0.unanswered -= 1 }
    }

    /// The most requests unanswered at once since the last call, which starts counting again from now.
    func takePeakUnanswered() -> Int {
        state.withLock { state in
            defer { state.peakUnanswered = state.unanswered }
            return state.peakUnanswered
        }
    }

    func connectionOpened() {
        state.withLock { $0.connectionCount += 1 }
    }

    func resetTally(target: Int) {
        state.withLock { $0.tally = MockTally(target: target) }
    }

    var requests: [MockRequest] {
        state.withLock { state in state.requests.sorted { $0.number < $1.number } }
    }

    var requestCount: Int { state.withLock { $0.requestCount } }
    var deliveredEvents: [String] { state.withLock { $0.deliveredEvents } }
    var deliveredCount: Int { state.withLock { $0.deliveredCount } }
    var deliveredTraces: [MockRequest] { state.withLock { $0.deliveredTraces } }
    var tally: MockTally { state.withLock { $0.tally } }
    var connectionCount: Int { state.withLock { $0.connectionCount } }
}
