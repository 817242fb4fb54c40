/// How many requests may be in flight, adapted to the upstream (AIMD, after Vector's adaptive
/// request concurrency): start at 1; add one per round trip while requests succeed at a steady
/// latency and the limit is in use; halve on back-pressure (429, 503, timeouts, connection
/// errors). A struggling upstream gets fewer requests, not more.
struct AdaptiveConcurrency: Sendable, Equatable {
    typealias Instant = ContinuousClock.Instant

    private(set) var limit = 1
    private(set) var maximum: Int
    /// Smoothed latency of delivered requests, in seconds.
    private(set) var latency: Double?
    /// Requests sent before this count toward no further change: one step per round trip.
    private var windowStart: Instant?

    /// A latency this much above the smoothed one (or 5 ms on a fast link) is not steady.
    static let steadyFactor = 1.5
    static let steadySlack = 0.005

    init(maximum: Int) {
        self.maximum = max(1, maximum)
    }

    /// A delivered request sent at `sentAt`; `stillInFlight` excludes it. True when the limit changed.
    mutating func delivered(sentAt: Instant, now: Instant, stillInFlight: Int) -> Bool {
        let sample = Self.seconds(now - sentAt)
        let steady = latency.map { sample <= $0 * Self.steadyFactor + Self.steadySlack } ?? true
        latency = latency.map { $0 * 0.8 + sample * 0.2 } ?? sample
        guard steady, limit < maximum, stillInFlight + 1 >= limit else { return false }
        if let windowStart, sentAt < windowStart { return false }
        limit += 1
        windowStart = now
        return true
    }

    /// Back-pressure from the upstream. True when the limit changed.
    mutating func congested(now: Instant) -> Bool {
        windowStart = now
        guard limit > 1 else { return false }
        limit = max(1, limit / 2)
        return true
    }

    mutating func setMaximum(_ value: Int) {
        maximum = max(1, value)
        limit = min(limit, maximum)
    }

    /// Faults that say the upstream is overloaded or unreachable, rather than that a batch is wrong.
    static func isBackPressure(_ fault: DeliveryFault) -> Bool {
        guard let status = fault.status else { return true }  // timeouts and connection errors
        return status == 429 || status == 503 || status == 504 || status == 408
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
