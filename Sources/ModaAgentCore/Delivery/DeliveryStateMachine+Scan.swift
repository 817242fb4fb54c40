/// How the machine learns what is queued: when to scan the head, and sorting what a scan or a
/// commit brings into the lanes.
extension DeliveryStateMachine {
    func scanWanted(_ now: Now) -> Bool {
        guard lanes.count == laneTarget, waitingCount + maxEvents <= window else { return false }
        switch scan {
        case .scanning:
            return false
        case .unknown:
            return true
        case .caughtUp(let pollAt):
            if now.instant >= pollAt { return true }
            let flushScan = force && forceThrough == nil
            if (flushScan || drainDeadline != nil) && nothingOut && scanned > 0 { return true }
            guard newest > scanned else { return false }
            if flushScan || drainDeadline != nil || newest - scanned >= Int64(maxEvents) { return true }
            // What came since may complete a lane's waiting batch: the fullest lane plus everything
            // unscanned could make a full batch, so look.
            let fullest = lanes.reduce(0) { max($0, $1.busy == nil ? $1.waiting.count : 0) }
            if fullest > 0, Int64(fullest) + newest - scanned >= Int64(maxEvents) { return true }
            if let known = arrivals.knownAt(scanned + 1), known + flushInterval <= now.instant { return true }
            // A lane's partial batch is due: fill it with what came since.
            return lanes.indices.contains { isDue($0, now) }
        }
    }

    mutating func received(
        _ events: [ScannedEvent],
        after: Int64,
        limit: Int,
        now: Now,
        into actions: inout [Action]
    ) {
        // A flush covers what this scan found, when it reached the queue's end.
        if force && forceThrough == nil && events.count < limit { forceThrough = max(newest, events.last?.id ?? scanned) }
        guard let last = events.last else {
            newest = scanned
            if nothingOut && after != 0 {
                // The last batch out has just gone: look from the true head.
                scan = .unknown
                return
            }
            scan = .caughtUp(pollAt: now.instant + max(.seconds(1), flushInterval))
            if nothingOut {
                // The queue is empty and nothing is out.
                force = false
                if drainDeadline != nil { finishDrain(drained: true, into: &actions) }
            }
            return
        }
        let count = UInt64(lanes.count)
        for event in events {
            lanes[Int(event.conversation % count)].append(event)
        }
        scanned = last.id
        newest = max(newest, scanned)
        // Rows another process added are known from now.
        arrivals.record(through: last.id, at: now.instant, interval: flushInterval)
        scan = events.count < limit ? .caughtUp(pollAt: now.instant + max(.seconds(1), flushInterval)) : .unknown
    }

    /// Sorts a commit's events into the lanes as a scan would, sparing the read, when they are
    /// exactly what the next scan would return: delivery has caught up, they follow the last id
    /// sorted (nothing another process added in between), and the window has room for them all.
    /// Otherwise a scan picks them up later, as without them.
    mutating func take(_ added: [ScannedEvent]) {
        guard case .caughtUp = scan, let first = added.first, let last = added.last,
            first.id == scanned + 1, last.id - first.id == Int64(added.count - 1),
            lanes.count == laneTarget, waitingCount + added.count <= window
        else { return }
        let count = UInt64(lanes.count)
        for event in added {
            lanes[Int(event.conversation % count)].append(event)
        }
        scanned = last.id
    }
}
