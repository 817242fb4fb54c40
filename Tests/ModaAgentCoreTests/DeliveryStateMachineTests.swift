import Testing

@testable import ModaAgentCore

/// Every delivery decision, checked instantly against a manual clock: no test here waits.
@Suite("delivery state machine")
struct DeliveryStateMachineTests {
    private func near(_ value: Double?, _ expected: Double) -> Bool {
        guard let value else { return false }
        return abs(value - expected) < 1e-6
    }

    @Test("a partial batch waits flushIntervalMs from its first commit, then leaves")
    func partialBatchWaitsItsInterval() {
        var h = DeliveryHarness(flushIntervalMs: 300)
        h.start()
        h.commit(3)
        #expect(h.sent.isEmpty)
        #expect(near(h.secondsToWake, 0.3))
        h.advance(by: .milliseconds(100))
        h.commit(2)
        h.advance(by: .milliseconds(199))
        #expect(h.sent.isEmpty, "not before its interval")
        h.advance(by: .milliseconds(1))
        #expect(h.sent == [[1, 2, 3, 4, 5]])
    }

    @Test("a full batch leaves at once; the rest waits its interval")
    func fullBatchLeavesAtOnce() {
        var h = DeliveryHarness(maxEvents: 10)
        h.start()
        h.commit(25)
        #expect(h.sent == [Array(1...10)])
        h.answer(.ok)
        #expect(h.sent == [Array(1...10), Array(11...20)], "the next full batch at once")
        h.answer(.ok)
        h.advance(by: .milliseconds(999))
        #expect(h.sent.count == 2)
        h.advance(by: .milliseconds(1))
        #expect(h.sent.last == Array(21...25))
    }

    @Test("commits adding up to a full batch send it without waiting for the interval")
    func commitsFillingABatch() {
        var h = DeliveryHarness(maxEvents: 10)
        h.start()
        h.commit(4)
        let readsBefore = h.reads
        h.commit(4)
        #expect(h.reads == readsBefore, "a partial batch is not re-read on every commit")
        h.commit(2)
        #expect(h.sent == [Array(1...10)])
    }

    @Test("caught up, commits that carry their events are sorted without a read; a gap is read")
    func announcedCommitsNeedNoRead() {
        var h = DeliveryHarness(maxEvents: 10, maxInFlight: 4)
        h.announcesRows = true
        h.start()
        h.commit(4) { "c\($0 % 3)" }
        let readsBefore = h.reads
        for _ in 0..<20 {
            h.commit(7) { "c\($0 % 3)" }
            while !h.inFlight.isEmpty { h.answer(.ok) }
        }
        #expect(h.reads == readsBefore, "nothing read back while caught up")
        h.insert(3) { _ in "c9" }  // another process: no commit event, so ids jump
        h.commit(5) { _ in "c9" }
        #expect(h.reads > readsBefore, "the gap is filled by a read")
        h.advance(by: .seconds(2))
        while !h.inFlight.isEmpty { h.answer(.ok) }
        h.advance(by: .seconds(2))
        #expect(h.rows.isEmpty)
        #expect(h.delivered.flatMap { $0 }.sorted() == Array(1...(4 + 140 + 8)))
    }

    @Test("the flush interval runs on the monotonic clock: a stored time an hour off changes nothing")
    func wallClockStepsDoNotMatter() {
        var h = DeliveryHarness(flushIntervalMs: 500)
        h.start()
        h.commit(1, receivedAt: h.clock.wall - 3600)  // the wall clock was stepped back an hour
        #expect(h.sent.isEmpty, "not sent early for an old received_at")
        h.commit(1, receivedAt: h.clock.wall + 3600)
        h.advance(by: .milliseconds(500))
        #expect(h.sent == [[1, 2]], "not held for an hour for a future received_at")
    }

    @Test("events found at start-up count their interval from start-up")
    func startupEventsCountFromStartup() {
        var h = DeliveryHarness(flushIntervalMs: 1000)
        h.insert(3, receivedAt: 0)
        h.start()
        #expect(h.sent.isEmpty)
        h.advance(by: .milliseconds(1000))
        #expect(h.sent == [[1, 2, 3]])
    }

    @Test("backoff: each wait within [nominal/2, nominal], doubling up to retryMaxSeconds")
    func backoffBounds() {
        for jitter in [0.0, 0.5, 1.0] {
            var h = DeliveryHarness(flushIntervalMs: 0, retryInitialSeconds: 0.1, retryMaxSeconds: 0.8)
            h.start()
            h.commit(1)
            for nominal in [0.1, 0.2, 0.4, 0.8, 0.8, 0.8] {
                h.answer(.unavailable, jitter: jitter)
                #expect(near(h.secondsToWake, nominal / 2 + nominal / 2 * jitter), "nominal \(nominal)")
                #expect(h.machine.status.state == .retrying)
                let sends = h.sent.count
                h.advance(by: .seconds(nominal / 2 * (1 + jitter) - 0.001))
                #expect(h.sent.count == sends, "not before the backoff")
                h.advance(by: .milliseconds(1))
                #expect(h.sent.count == sends + 1, "at the end of the backoff")
            }
            h.answer(.ok)
            #expect(h.sent == Array(repeating: [1], count: 7))
            #expect(h.rows.isEmpty)
            #expect(h.machine.status.state == .ok)
        }
    }

    @Test("Retry-After is honoured, and capped at retryMaxSeconds")
    func retryAfter() {
        var h = DeliveryHarness(flushIntervalMs: 0, retryInitialSeconds: 1, retryMaxSeconds: 30)
        h.start()
        h.commit(1)
        h.answer(.retry(after: 5, fault: DeliveryFault(status: 429, message: "slow down")))
        #expect(near(h.secondsToWake, 5))
        h.advance(by: .seconds(5))
        h.answer(.retry(after: 600, fault: DeliveryFault(status: 503, message: "down")))
        #expect(near(h.secondsToWake, 30))
        #expect(near(h.machine.status.nextAttemptAt, h.clock.wall + 30))
    }

    @Test("a success resets the backoff")
    func successResetsBackoff() {
        var h = DeliveryHarness(flushIntervalMs: 0, retryInitialSeconds: 1, retryMaxSeconds: 30)
        h.start()
        h.commit(1)
        for wait in [1.0, 2.0, 4.0] {
            h.answer(.unavailable)
            #expect(near(h.secondsToWake, wait))
            h.advance(by: .seconds(wait))
        }
        h.answer(.ok)
        #expect(h.machine.status.attempts == 0)
        h.commit(1)
        h.answer(.unavailable)
        #expect(near(h.secondsToWake, 1), "back to retryInitialSeconds")
    }

    @Test("events committed during a backoff do not cut it short")
    func commitsDuringBackoff() {
        var h = DeliveryHarness(maxEvents: 10, flushIntervalMs: 10, retryInitialSeconds: 1, retryMaxSeconds: 1)
        h.start()
        h.commit(10)
        h.answer(.unavailable)
        let wake = h.wake
        let reads = h.reads
        for _ in 0..<9 {
            h.advance(by: .milliseconds(100))
            h.commit(20)
        }
        #expect(h.sent.count == 1, "nothing sent during the backoff")
        #expect(h.reads == reads, "nor read")
        #expect(h.wake == wake)
        h.advance(by: .milliseconds(100))
        #expect(h.sent.count == 2)
        #expect(h.sent.last == Array(1...10), "the failed batch goes first")
    }

    @Test("flush skips a backoff and sends a partial batch at once")
    func flushSkipsBackoff() {
        var h = DeliveryHarness(flushIntervalMs: 60_000, retryInitialSeconds: 300, retryMaxSeconds: 300)
        h.start()
        h.commit(5)
        h.handle(.flushRequested)
        #expect(h.sent == [[1, 2, 3, 4, 5]], "flush sends a partial batch")
        h.answer(.unavailable)
        #expect(near(h.secondsToWake, 300))
        h.handle(.flushRequested)
        #expect(h.sent.count == 2, "flush skips the backoff")
        h.answer(.ok)
        #expect(h.rows.isEmpty)
    }

    @Test("flush sends what was queued when it was asked; what comes after waits its flush interval")
    func flushCoversWhatWasQueued() {
        var h = DeliveryHarness(maxEvents: 100, flushIntervalMs: 1_000)
        h.start()
        h.commit(5)
        h.handle(.flushRequested)
        #expect(h.sent == [[1, 2, 3, 4, 5]], "flush sends the partial batch at once")
        h.answer(.ok)
        for _ in 0..<5 {
            h.advance(by: .milliseconds(100))
            h.commit(2)
        }
        #expect(h.sent.count == 1, "lines committed after the flush are not sent one commit at a time")
        h.advance(by: .milliseconds(600))
        #expect(h.sent.count == 2, "they go once the first of them has waited the interval")
        #expect(h.sent.last == Array(6...15))
    }

    @Test("401 pauses as unauthorized, retries every retryMaxSeconds, and at once on reload")
    func unauthorizedPausesUntilReload() {
        var h = DeliveryHarness(flushIntervalMs: 0, retryInitialSeconds: 1, retryMaxSeconds: 30)
        h.start()
        h.commit(3)
        h.answer(.pause(.unauthorized, fault: DeliveryFault(status: 401, message: "bad key")))
        #expect(h.machine.status.state == .unauthorized)
        #expect(near(h.secondsToWake, 30))
        #expect(h.deadLettered.isEmpty)
        h.commit(20)
        #expect(h.sent.count == 1, "new events do not end a pause")
        h.advance(by: .seconds(30))
        #expect(h.sent.count == 2, "tried again after retryMaxSeconds")
        h.answer(.pause(.unauthorized, fault: DeliveryFault(status: 401, message: "bad key")))
        h.handle(.reload(DeliveryHarness.settings(flushIntervalMs: 0, retryMaxSeconds: 30, apiKey: "fixed")))
        #expect(h.sent.count == 3, "reload tries at once")
        #expect(h.machine.settings.apiKey == "fixed")
        h.answer(.ok)
        #expect(h.machine.status.state == .ok)
    }

    @Test("404 pauses as misconfigured until flush")
    func misconfiguredPausesUntilFlush() {
        var h = DeliveryHarness(flushIntervalMs: 0, retryMaxSeconds: 30)
        h.start()
        h.commit(1)
        h.answer(.pause(.misconfigured, fault: DeliveryFault(status: 404, message: "not found")))
        #expect(h.machine.status.state == .misconfigured)
        h.advance(by: .seconds(29))
        #expect(h.sent.count == 1)
        h.handle(.flushRequested)
        #expect(h.sent.count == 2)
    }

    @Test("a retried batch goes before newer ones")
    func retriedBatchesGoFirst() {
        var h = DeliveryHarness(maxEvents: 10, flushIntervalMs: 0, retryInitialSeconds: 1)
        h.start()
        h.commit(40)
        h.answer(.unavailable)  // 1...10
        #expect(h.sent.count == 1, "nothing new during the backoff")
        h.advance(by: .seconds(1))
        h.answer(.ok)
        #expect(h.sent == [Array(1...10), Array(1...10), Array(11...20)])
    }

    @Test("a refused batch splits into halves, oldest first, down to single events that are dead-lettered")
    func splitOrder() {
        var h = DeliveryHarness(maxEvents: 4, flushIntervalMs: 0)
        h.start()
        h.commit(4)
        h.answer(.badRequest)  // 1...4
        h.answer(.badRequest)  // 1, 2
        h.answer(.rejected)  // 1
        h.answer(.ok)  // 2
        h.answer(.ok)  // 3, 4
        #expect(h.sent == [[1, 2, 3, 4], [1, 2], [1], [2], [3, 4]])
        #expect(h.deadLettered == [1])
        #expect(h.rows.isEmpty)
        #expect(h.machine.status.lastError?.status == 400)
    }

    @Test("drain sends partial batches at once and finishes when the queue is empty")
    func drainEmptiesTheQueue() {
        var h = DeliveryHarness(flushIntervalMs: 60_000)
        h.start()
        h.commit(3)
        h.handle(.drainRequested(deadline: h.clock.instant + .seconds(10)))
        #expect(h.sent == [[1, 2, 3]])
        #expect(h.drainResults.isEmpty)
        h.answer(.ok)
        #expect(h.drainResults == [true])
    }

    @Test("drain ends at its deadline with the upstream down; the events stay queued")
    func drainDeadline() {
        var h = DeliveryHarness(flushIntervalMs: 0, retryInitialSeconds: 0.1, retryMaxSeconds: 0.8)
        h.start()
        h.commit(3)
        h.answer(.unavailable)
        h.handle(.drainRequested(deadline: h.clock.instant + .seconds(2)))
        #expect(h.sent.count == 2, "one attempt at once, even mid-backoff")
        for _ in 0..<20 where h.drainResults.isEmpty {
            h.answer(.unavailable)
            h.advance(by: .milliseconds(100))
        }
        #expect(h.drainResults == [false])
        #expect(h.rows.count == 3)
        let sends = h.sent.count
        h.answer(.ok)
        h.commit(5)
        h.advance(by: .seconds(5))
        #expect(h.sent.count == sends, "nothing after the drain ended")
    }

    @Test("an empty queue is polled for rows another process added")
    func idlePolling() {
        var h = DeliveryHarness(flushIntervalMs: 200)
        h.start()
        #expect(near(h.secondsToWake, 1), "polls at max(1 s, flushInterval)")
        h.insert(2)  // modactl dead-letters replay: no commit event
        h.advance(by: .seconds(1))
        h.advance(by: .milliseconds(200))
        #expect(h.sent == [[1, 2]])
    }

    @Test("a delivered batch that cannot be removed holds every new send until it is")
    func failedRemovalHoldsSends() {
        var h = DeliveryHarness(maxEvents: 2, flushIntervalMs: 0)
        h.start()
        h.commit(6)
        h.failWrites = true
        h.answer(.ok)
        #expect(h.sent == [[1, 2]], "nothing new once a removal failed")
        #expect(near(h.secondsToWake, 1))
        h.advance(by: .seconds(1))
        #expect(h.sent.count == 1)
        h.failWrites = false
        h.advance(by: .seconds(1))
        #expect(h.rows.first?.id == 3)
        #expect(h.sent == [[1, 2], [3, 4]], "never sent twice")
    }

    @Test("an event that cannot be dead-lettered is tried again after 1 s")
    func failedDeadLetterIsRetried() {
        var h = DeliveryHarness(maxEvents: 1, flushIntervalMs: 0)
        h.start()
        h.commit(1)
        h.failWrites = true
        h.answer(.rejected)
        h.failWrites = false
        #expect(h.sent.count == 1)
        h.advance(by: .seconds(1))
        #expect(h.sent == [[1], [1]])
        h.answer(.rejected)
        #expect(h.rows.isEmpty)
    }

    @Test("a restart does not carry a pause or backoff over")
    func storedStatusIsReset() {
        var stored = DeliveryStatus()
        stored.state = .unauthorized
        stored.attempts = 7
        stored.nextAttemptAt = 5
        let machine = DeliveryStateMachine(settings: DeliveryHarness.settings(), stored: stored)
        #expect(machine.status.state == .idle)
        #expect(machine.status.attempts == 0)
        #expect(machine.status.nextAttemptAt == nil)
    }
}
