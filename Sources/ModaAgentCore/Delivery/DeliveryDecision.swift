/// What to do with a batch after one POST. A pure value: the classifier only decides what an
/// outcome means; `DeliveryStateMachine` decides when to act on it (backoff, timers, splitting).
public enum DeliveryDecision: Sendable, Equatable {
    /// A 2xx with `"success": true` covers the batch: remove it from the queue.
    case delivered(requestId: String?)
    /// A temporary failure: send the same batch again later. `after` is the server's
    /// `Retry-After` in seconds, when it sent a usable one.
    case retry(after: Double?, fault: DeliveryFault)
    /// A non-retryable rejection of a batch of more than one event: deliver each half on its own,
    /// so only the events at fault end up dead-lettered.
    case split(fault: DeliveryFault)
    /// A non-retryable rejection of a single event: move it to dead letters with the fault.
    case deadLetter(fault: DeliveryFault)
    /// A configuration fault, not the events' fault: dead-letter nothing, stop sending, show the
    /// reason, and try again after `retryMaxSeconds`, SIGHUP or `modactl flush`.
    case pause(PauseReason, fault: DeliveryFault)
}
