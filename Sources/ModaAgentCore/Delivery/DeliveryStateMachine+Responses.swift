/// What an upstream answer does to a batch, its lane and the status: removal, retry with backoff,
/// pause, split or dead letter.
extension DeliveryStateMachine {
    mutating func answered(
        _ flight: Flight,
        _ decision: DeliveryDecision,
        jitter: Double,
        now: Now,
        into actions: inout [Action]
    ) {
        let batch = flight.batch
        switch decision {
        case .delivered:
            status.state = .ok
            status.lastSuccessAt = now.wall
            status.attempts = 0
            status.nextAttemptAt = nil
            failingSince = nil
            _ = concurrency.delivered(sentAt: flight.sentAt, now: now.instant, stillInFlight: inFlight.count)
            status.concurrency = concurrency.limit
            let through = finishedThrough
            prunedThrough = max(prunedThrough, through)
            writes[batch.id] = .removal(batch, through: through, .submitted)
            actions.append(.remove(batch.id, ids: batch.ids, through: through, status: status))
        case .retry(let after, let fault):
            if AdaptiveConcurrency.isBackPressure(fault) {
                _ = concurrency.congested(now: now.instant)
                status.concurrency = concurrency.limit
            }
            let backoff = settings.backoff
            scheduleRetry(flight, fault: fault, state: .retrying, now: now, into: &actions) { attempt in
                backoff.delay(attempt: attempt, retryAfter: after, unit: jitter)
            }
        case .pause(let reason, let fault):
            let state: DeliveryStatus.State = reason == .unauthorized ? .unauthorized : .misconfigured
            let delay = settings.delivery.retryMaxSeconds
            scheduleRetry(flight, fault: fault, state: state, now: now, into: &actions) { _ in delay }
        case .split(let fault):
            actions.append(.splitting(fault: fault, eventCount: batch.ids.count))
            let middle = batch.ids.count / 2
            lanes[batch.lane].queueForResend(makeBatch(lane: batch.lane, Array(batch.ids[..<middle])))
            lanes[batch.lane].queueForResend(makeBatch(lane: batch.lane, Array(batch.ids[middle...])))
        case .deadLetter(let fault):
            guard let event = batch.ids.first else { return }
            status.lastError = .init(status: fault.status, message: fault.message, at: now.wall)
            // The lane stays busy until the dead letter is written: if that fails, the event is
            // sent again before anything newer of its conversation.
            lanes[batch.lane].busy = batch.id
            writes[batch.id] = .deadLetter(batch)
            actions.append(.deadLetter(batch.id, eventID: event, fault, at: now.wall, status: status))
        }
    }

    /// The batch goes back to the front of its lane, and every lane waits: the upstream is one.
    /// Failures of batches sent before the current run of failures began are that same outage
    /// seen again by other lanes: they keep the attempt count, so the backoff grows per round.
    mutating func scheduleRetry(
        _ flight: Flight,
        fault: DeliveryFault,
        state: DeliveryStatus.State,
        now: Now,
        into actions: inout [Action],
        delay: (Int) -> Double
    ) {
        var batch = flight.batch
        batch.attempts += 1
        lanes[batch.lane].queueForResend(batch)
        if failingSince.map({ flight.sentAt > $0 }) ?? true {
            status.attempts += 1
            failingSince = now.instant
        }
        let seconds = delay(max(1, status.attempts))
        let until = now.instant + .seconds(seconds)
        if retryAt.map({ until > $0 }) ?? true { retryAt = until }
        let wait = retryAt.map { $0 - now.instant } ?? .zero
        status.state = state
        status.lastError = .init(status: fault.status, message: fault.message, at: now.wall)
        status.nextAttemptAt = now.wall + Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18
        actions.append(.persist(status))
        actions.append(.retryScheduled(fault: fault, attempt: status.attempts, delay: seconds, state: state))
    }
}
