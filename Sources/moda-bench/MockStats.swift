import Synchronization

/// What the mock server saw, as atomics its event loop bumps and the bench reads: events
/// accepted, requests, 503s served, and the two moments scenarios are timed against (the first
/// 503 of an outage; the request that brought the accepted total to `target`). Stamping them in
/// the server, as they happen, keeps polling error out of the end-to-end figures.
final class MockStats: Sendable {
    let events = Atomic<Int>(0)
    let requests = Atomic<Int>(0)
    let refusals = Atomic<Int>(0)
    /// While set, every request gets 503 (the upstream is "down").
    let unavailable = Atomic<Bool>(false)
    let firstRefusalAt = Atomic<UInt64>(0)
    let targetReachedAt = Atomic<UInt64>(0)
    private let target = Atomic<Int>(Int.max)

    /// Zeroes the counters and stamps; the next time `target` events are held is stamped.
    func reset(target: Int) {
        self.target.store(target, ordering: .sequentiallyConsistent)
        events.store(0, ordering: .sequentiallyConsistent)
        requests.store(0, ordering: .sequentiallyConsistent)
        refusals.store(0, ordering: .sequentiallyConsistent)
        firstRefusalAt.store(0, ordering: .sequentiallyConsistent)
        targetReachedAt.store(0, ordering: .sequentiallyConsistent)
    }

    /// A request with `count` events was accepted; returns its request number.
    func delivered(_ count: Int) -> Int {
        let number = requests.wrappingAdd(1, ordering: .relaxed).newValue
        let total = events.wrappingAdd(count, ordering: .relaxed).newValue
        if total >= target.load(ordering: .relaxed) {
            _ = targetReachedAt.compareExchange(expected: 0, desired: Monotonic.now(), ordering: .relaxed)
        }
        return number
    }

    /// A request was answered 503.
    func refused() {
        _ = requests.wrappingAdd(1, ordering: .relaxed)
        _ = refusals.wrappingAdd(1, ordering: .relaxed)
        _ = firstRefusalAt.compareExchange(expected: 0, desired: Monotonic.now(), ordering: .relaxed)
    }

    /// Waits until the target is reached and returns when it was; fails when no event arrived for
    /// `stallSeconds` or `alive` says the daemon is gone (a lost event must not hang the bench).
    func waitForTarget(stallSeconds: Double, alive: () -> Bool) throws(BenchFailure) -> UInt64 {
        var seen = events.load(ordering: .relaxed)
        var lastProgress = Monotonic.now()
        while true {
            let reached = targetReachedAt.load(ordering: .relaxed)
            if reached != 0 { return reached }
            let now = Monotonic.now()
            let current = events.load(ordering: .relaxed)
            if current != seen {
                seen = current
                lastProgress = now
            } else if Monotonic.seconds(from: lastProgress, to: now) > stallSeconds {
                throw BenchFailure(
                    "the mock holds \(current) of \(target.load(ordering: .relaxed)) events and none arrived "
                        + "for \(Int(stallSeconds)) s: events missing"
                )
            }
            guard alive() else {
                throw BenchFailure("the daemon exited while the mock held \(current) events")
            }
            Monotonic.sleep(seconds: 0.002)
        }
    }
}
