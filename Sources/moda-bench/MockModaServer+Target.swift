import ModaAgentTestSupport

extension MockModaServer {
    /// Waits until the tally reaches its target and returns when it did (the server's own stamp);
    /// fails when no event arrived for `stallSeconds` or `alive` says the daemon is gone (a lost
    /// event must not hang the bench).
    func waitForTarget(stallSeconds: Double, alive: () -> Bool) throws(BenchFailure) -> UInt64 {
        var seen = tally.deliveredEvents
        var lastProgress = Monotonic.now()
        while true {
            let tally = tally
            if tally.targetReachedAt != 0 { return tally.targetReachedAt }
            let now = Monotonic.now()
            if tally.deliveredEvents != seen {
                seen = tally.deliveredEvents
                lastProgress = now
            } else if Monotonic.seconds(from: lastProgress, to: now) > stallSeconds {
                throw BenchFailure(
                    "the mock holds \(tally.deliveredEvents) of \(tally.target) events and none arrived "
                        + "for \(Int(stallSeconds)) s: events missing"
                )
            }
            guard alive() else {
                throw BenchFailure("the daemon exited while the mock held \(tally.deliveredEvents) events")
            }
            Monotonic.sleep(seconds: 0.002)
        }
    }

    /// When the tally's first refusal was served, waiting at most `seconds`; nil if none was.
    func waitForFirstRefusal(seconds: Double) -> UInt64? {
        let limit = Monotonic.now() + UInt64(seconds * 1e9)
        while true {
            let stamp = tally.firstRefusalAt
            if stamp != 0 { return stamp }
            if Monotonic.now() >= limit { return nil }
            Monotonic.sleep(seconds: 0.001)
        }
    }
}
