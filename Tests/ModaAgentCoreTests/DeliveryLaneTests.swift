import ModaAgentTestSupport
import Testing

@testable import ModaAgentCore

/// Lanes and adaptive concurrency, checked instantly against a manual clock.
@Suite("delivery lanes and concurrency")
struct DeliveryLaneTests {
    /// Answers every batch in flight with `decision` after `latency`; returns how many there were.
    @discardableResult
    private func round(_ h: inout DeliveryHarness, _ decision: DeliveryDecision, after latency: Duration) -> Int {
        h.advance(by: latency)
        let count = h.inFlight.count
        for _ in 0..<count { h.answer(decision) }
        return count
    }

    private func backlog(_ h: inout DeliveryHarness, _ count: Int, conversations: Int = 64) {
        h.commit(count) { "conv-\($0 % conversations)" }
    }

    @Test("an item that travels alone is a full batch by itself and never shares one")
    func travelsAlone() {
        var lane = DeliveryLane()
        let small = { (id: Int64) in ScannedEvent(id: id, bytes: 10, conversation: 0) }
        lane.append(small(1))
        lane.append(small(2))
        #expect(!lane.isFull(maxEvents: 10, maxBytes: 1_000))
        lane.append(ScannedEvent(id: 3, bytes: 10, conversation: 0, travelsAlone: true))
        lane.append(small(4))
        #expect(lane.isFull(maxEvents: 10, maxBytes: 1_000), "waiting for more would only delay it")
        #expect(lane.takeBatch(maxEvents: 10, maxBytes: 1_000) == [1, 2])
        #expect(lane.takeBatch(maxEvents: 10, maxBytes: 1_000) == [3])
        #expect(!lane.isFull(maxEvents: 10, maxBytes: 1_000))
        #expect(lane.takeBatch(maxEvents: 10, maxBytes: 1_000) == [4])
    }

    @Test("concurrency starts at 1 and adds one per round trip while latency is steady, up to maxInFlight")
    func rampUp() {
        var h = DeliveryHarness(maxEvents: 10, flushIntervalMs: 0, maxInFlight: 8)
        h.start()
        backlog(&h, 20_000)
        var limits: [Int] = []
        var widths: [Int] = []
        for _ in 0..<10 {
            limits.append(h.machine.concurrencyLimit)
            widths.append(round(&h, .ok, after: .milliseconds(50)))
        }
        #expect(limits == [1, 2, 3, 4, 5, 6, 7, 8, 8, 8])
        #expect(widths == [1, 2, 3, 4, 5, 6, 7, 8, 8, 8], "as many requests in flight as allowed")
        #expect(h.machine.status.concurrency == 8)
    }

    @Test("no increase while latency grows, nor while the limit is not in use")
    func noIncreaseWithoutEvidence() {
        var h = DeliveryHarness(maxEvents: 10, flushIntervalMs: 0, maxInFlight: 8)
        h.start()
        backlog(&h, 20_000)
        for _ in 0..<3 { round(&h, .ok, after: .milliseconds(50)) }
        #expect(h.machine.concurrencyLimit == 4)
        round(&h, .ok, after: .milliseconds(500))
        #expect(h.machine.concurrencyLimit == 4, "ten times the latency is not steady")

        // One conversation: one lane, one request at a time, so more concurrency would not be used.
        var single = DeliveryHarness(maxEvents: 10, flushIntervalMs: 0, maxInFlight: 8)
        single.start()
        single.commit(1000) { _ in "only" }
        for _ in 0..<5 { round(&single, .ok, after: .milliseconds(50)) }
        #expect(single.machine.concurrencyLimit == 2)
        #expect(single.sent.count == 6, "five answered, the sixth out")
    }

    @Test("halves on 429, 503 and timeouts; a 500 or a refused batch changes nothing")
    func halving() {
        var h = DeliveryHarness(maxEvents: 10, flushIntervalMs: 0, maxInFlight: 8, retryInitialSeconds: 0.1)
        h.start()
        backlog(&h, 50_000)
        for _ in 0..<7 { round(&h, .ok, after: .milliseconds(50)) }
        #expect(h.machine.concurrencyLimit == 8)
        h.answer(.retry(after: nil, fault: DeliveryFault(status: 500, message: "oops")))
        #expect(h.machine.concurrencyLimit == 8)
        h.answer(.badRequest)
        #expect(h.machine.concurrencyLimit == 8)
        h.answer(.retry(after: nil, fault: DeliveryFault(status: 429, message: "slow down")))
        #expect(h.machine.concurrencyLimit == 4)
        h.answer(.unavailable)
        #expect(h.machine.concurrencyLimit == 2)
        h.answer(.retry(after: nil, fault: DeliveryFault(status: nil, message: "timeout after 30 s")))
        #expect(h.machine.concurrencyLimit == 1)
        #expect(h.machine.status.concurrency == 1)
    }

    @Test("a 503 storm: concurrency falls to 1 and requests come one per backoff")
    func storm() {
        var h = DeliveryHarness(maxEvents: 10, flushIntervalMs: 0, maxInFlight: 8, retryInitialSeconds: 1)
        h.start()
        backlog(&h, 50_000)
        for _ in 0..<7 { round(&h, .ok, after: .milliseconds(50)) }
        #expect(h.inFlight.count == 8)
        let before = h.sent.count
        var sendTimes: [Double] = []
        var start = h.clock.wall
        for _ in 0..<8 { h.answer(.unavailable) }
        #expect(h.machine.concurrencyLimit == 1, "8 → 4 → 2 → 1")
        #expect(h.machine.status.attempts == 1, "one outage seen by eight lanes is one failed round")
        for _ in 0..<2000 {  // 200 s in 100 ms steps
            let sends = h.sent.count
            h.advance(by: .milliseconds(100))
            #expect(h.inFlight.count <= 1, "one request at a time")
            if h.sent.count > sends { sendTimes.append(h.clock.wall - start) }
            if !h.inFlight.isEmpty {
                h.answer(.unavailable)
                start = h.clock.wall
            }
        }
        // Jitter 1 waits the nominal backoff: 1, 2, 4, 8, 16, then 30 s each.
        let expected = [1.0, 2, 4, 8, 16] + Array(repeating: 30.0, count: (200 - 31) / 30)
        #expect(sendTimes.count == expected.count)
        for (waited, nominal) in zip(sendTimes, expected) {
            #expect(abs(waited - nominal) < 0.11, "sent \(waited) s after the last failure, backoff \(nominal) s")
        }
        #expect(h.sent.count - before == expected.count)
        #expect(h.machine.concurrencyLimit == 1)
    }

    @Test("a conversation stays in one lane: its batches never overlap, and a retry goes first")
    func conversationsStayInTheirLane() {
        var h = DeliveryHarness(maxEvents: 5, flushIntervalMs: 0, maxInFlight: 4, retryInitialSeconds: 0.1)
        h.start()
        h.commit(400) { "c\($0 % 7)" }
        for _ in 0..<3 { round(&h, .ok, after: .milliseconds(20)) }
        #expect(h.inFlight.count == 4)
        for batch in h.inFlight {
            #expect(Set(batch.ids.compactMap(h.conversation(of:))).count >= 1)
        }
        let laneOf = { (h: DeliveryHarness, id: Int64) in
            ConversationKey.of(event: Array(#"{"conversation_id":"\#(h.conversation(of: id) ?? "")"}"#.utf8)) % 4
        }
        let busyLanes = h.inFlight.map { laneOf(h, $0.ids[0]) }
        #expect(Set(busyLanes).count == busyLanes.count, "one batch per lane")
        let failed = h.inFlight[1]
        h.answer(.unavailable, at: 1)
        h.advance(by: .milliseconds(100))
        let lane = laneOf(h, failed.ids[0])
        let next = h.sent.last { laneOf(h, $0[0]) == lane }
        #expect(next == failed.ids, "the failed batch is its lane's next")
    }

    @Test("maxInFlight 1: one global order under random failures, splits and dead letters")
    func singleLaneKeepsGlobalOrder() {
        for seed in UInt64(1)...20 {
            let h = chaos(seed: seed, maxInFlight: 1, announcesRows: seed.isMultiple(of: 2))
            let all = h.delivered.flatMap { $0 }
            #expect(all == all.sorted(), "seed \(seed): one global order")
        }
    }

    @Test("per-conversation order holds under random failures, answers out of order, splits and dead letters")
    func orderUnderChaos() {
        for seed in UInt64(1)...40 {
            let h = chaos(seed: seed, maxInFlight: 6, announcesRows: seed.isMultiple(of: 2))
            var seen: [String: Int64] = [:]
            for id in h.delivered.flatMap({ $0 }) {
                let conversation = h.conversation(of: id) ?? "-"
                #expect((seen[conversation] ?? 0) < id, "seed \(seed): \(conversation) out of order at \(id)")
                seen[conversation] = id
            }
        }
    }

    /// Random commits, answers (in any order) and clock steps with a seeded generator, then a
    /// healthy upstream until the queue is empty. Checks what holds at every step and at the end:
    /// at most one batch per lane out, each event delivered once or dead-lettered. With
    /// `announcesRows` commits carry their events (sorted without a scan when delivery has caught
    /// up), and now and then rows appear without a commit, as `dead-letters replay` adds them.
    private func chaos(seed: UInt64, maxInFlight: Int, announcesRows: Bool) -> DeliveryHarness {
        var random = SeededGenerator(seed: seed)
        var h = DeliveryHarness(
            maxEvents: 8,
            flushIntervalMs: 50,
            maxInFlight: maxInFlight,
            retryInitialSeconds: 0.05,
            retryMaxSeconds: 0.4
        )
        h.announcesRows = announcesRows
        let isPoison = { (id: Int64) in id % 37 == 0 }
        var committed: Int64 = 0
        func decision(for batch: DeliveryStateMachine.Batch, healthy: Bool) -> DeliveryDecision {
            if batch.ids.contains(where: isPoison) { return batch.ids.count > 1 ? .badRequest : .rejected }
            if healthy { return .ok }
            switch Int.random(in: 0..<20, using: &random) {
            case 0..<11: return .ok
            case 11..<14: return .unavailable
            case 14..<16: return .retry(after: nil, fault: DeliveryFault(status: nil, message: "timeout"))
            case 16..<18: return .retry(after: nil, fault: DeliveryFault(status: 500, message: "oops"))
            default: return .retry(after: 0.2, fault: DeliveryFault(status: 429, message: "slow down"))
            }
        }
        h.start()
        for _ in 0..<600 {
            switch Int.random(in: 0..<10, using: &random) {
            case 0..<3:
                let conversations = (0..<Int.random(in: 1...20, using: &random)).map { _ in
                    "c\(Int.random(in: 0..<10, using: &random))"
                }
                if announcesRows, Int.random(in: 0..<5, using: &random) == 0 {
                    h.insert(conversations.count) { conversations[$0] }
                } else {
                    h.commit(conversations.count) { conversations[$0] }
                }
                committed += Int64(conversations.count)
            case 3..<7:
                guard !h.inFlight.isEmpty else { continue }
                let index = Int.random(in: 0..<h.inFlight.count, using: &random)
                h.answer(decision(for: h.inFlight[index], healthy: false), jitter: .random(in: 0...1, using: &random), at: index)
            default:
                h.advance(by: .milliseconds(Int.random(in: 1...200, using: &random)))
            }
            #expect(h.inFlight.count <= maxInFlight)
            let lanes = h.inFlight.map { batch in Set(batch.ids.compactMap(h.conversation(of:))) }
            for (index, lane) in lanes.enumerated() {
                for other in lanes[(index + 1)...] {
                    #expect(lane.isDisjoint(with: other), "seed \(seed): a conversation in two batches at once")
                }
            }
        }
        for _ in 0..<2000 where !h.rows.isEmpty || !h.inFlight.isEmpty {
            while let batch = h.inFlight.first { h.answer(decision(for: batch, healthy: true)) }
            h.advance(by: .milliseconds(100))
        }
        #expect(h.rows.isEmpty, "seed \(seed): everything delivered or dead-lettered")
        #expect(h.cutTooFar == 0, "seed \(seed): the queue was cut past an undelivered event")
        let delivered = h.delivered.flatMap { $0 }
        #expect(delivered.count == Set(delivered).count, "seed \(seed): each event delivered once")
        #expect(Set(h.deadLettered) == Set((1...max(1, committed)).filter(isPoison)))
        #expect(Set(delivered).union(h.deadLettered) == Set(committed > 0 ? Array(1...committed) : []))
        return h
    }
}
