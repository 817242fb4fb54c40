/// What a mock server answered since its tally was last reset (`MockModaServer.resetTally`), with
/// the moments the benchmark times against stamped by the server as they happen (`Monotonic`
/// nanoseconds; 0 until then), so polling adds no error to the figures.
public struct MockTally: Sendable {
    public internal(set) var requests = 0
    /// Events of the requests answered with a confirmed success.
    public internal(set) var deliveredEvents = 0
    /// Requests answered without confirming delivery (an error status or `"success": false`).
    public internal(set) var refusals = 0
    public internal(set) var firstRefusalAt: UInt64 = 0
    /// When `deliveredEvents` first reached `target`.
    public internal(set) var targetReachedAt: UInt64 = 0
    public let target: Int

    init(target: Int = .max) {
        self.target = target
    }

    mutating func answered(delivered events: Int?) {
        requests += 1
        guard let events else {
            refusals += 1
            if firstRefusalAt == 0 { firstRefusalAt = Monotonic.now() }
            return
        }
        deliveredEvents += events
        if deliveredEvents >= target, targetReachedAt == 0 { targetReachedAt = Monotonic.now() }
    }
}
