/// The delivery state kept in the database, so `modactl status` can read it with the daemon down.
public struct DeliveryStatus: Sendable, Equatable {
    public enum State: String, Sendable, CaseIterable {
        case idle, ok, retrying, unauthorized, misconfigured
    }

    public struct LastError: Sendable, Equatable {
        public var status: Int?
        public var message: String
        public var at: Double
    }

    public var state: State = .idle
    public var lastSuccessAt: Double? = nil
    public var lastError: LastError? = nil
    /// Consecutive failed attempts of the batch at the head of the queue.
    public var attempts: Int = 0
    public var nextAttemptAt: Double? = nil
    /// Requests allowed in flight at once right now (adaptive, at most `delivery.maxInFlight`).
    public var concurrency: Int = 1

    public init() {}
}
