import NIOConcurrencyHelpers

/// When shutdown began, on the monotonic clock: `delivery.drainTimeoutSeconds` counts from the
/// signal, although delivery is asked to stop only after ingest has finished.
final class ShutdownBudget: Sendable {
    private let started = NIOLockedValueBox<ContinuousClock.Instant?>(nil)
    /// The most the whole shutdown may take: the service group's own limit, which ends the process
    /// with a failure when it runs out, so every wait is kept inside it.
    let limit: Duration

    init(limit: Duration) {
        self.limit = limit
    }

    /// Marks the start of shutdown; the first call wins.
    func begin() {
        started.withLockedValue { $0 = $0 ?? .now }
    }

    /// When a drain of `seconds` counted from the start must end: half a second is kept for
    /// teardown, and the group's limit is never reached.
    func drainDeadline(seconds: Double) -> ContinuousClock.Instant {
        let start = started.withLockedValue { $0 } ?? .now
        let wanted = Duration.seconds(max(0, seconds - 0.5))
        return start + min(wanted, limit - .seconds(2))
    }
}
