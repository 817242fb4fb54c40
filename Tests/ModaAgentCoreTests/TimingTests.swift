import Foundation
import ModaAgentTestSupport
import NIOConcurrencyHelpers
import Testing

/// Tests that measure time. `make test` runs this suite on its own after the rest: beside 150
/// other tests on 2 cores, scheduling noise alone reaches seconds, and bounds loose enough for
/// that would prove little.
@Suite("timing", .serialized)
struct TimingTests {
    @Test("a lone event leaves within flushIntervalMs")
    func loneEventLeavesWithinInterval() async throws {
        try await withUpstream(overrides: ["batch": ["flushIntervalMs": 300]]) { agent, mock in
            let start = ContinuousClock.now
            _ = try UnixSocketClient.exchange(path: agent.socketPath, lines(1...1))
            #expect(await mock.waitForDeliveredCount(1, timeout: .seconds(5)))
            let waited = ContinuousClock.now - start
            #expect(waited >= .milliseconds(280), "not before its interval: \(waited)")
            #expect(waited < .milliseconds(300 + 250), "delivered after \(waited)")
        }
    }

    @Test("503 for a while, then 200: delivered exactly once, in order; waits follow the backoff bounds")
    func serviceUnavailableThenSuccess() async throws {
        let arrivals = NIOLockedValueBox<[ContinuousClock.Instant]>([])
        let failures = 5
        let behavior = MockBehavior { request in
            let count = arrivals.withLockedValue {
                $0.append(.now); return $0.count
            }
            return count <= failures
                ? .status(503, message: "Service temporarily unavailable", retryable: true) : .success
        }
        let overrides: [String: Any] = [
            "delivery": ["retryInitialSeconds": 0.1, "retryMaxSeconds": 0.8], "batch": ["flushIntervalMs": 10],
        ]
        try await withUpstream(behavior, overrides: overrides) { agent, mock in
            _ = try UnixSocketClient.exchange(path: agent.socketPath, lines(1...50))
            #expect(await mock.waitForDeliveredCount(50, timeout: .seconds(20)))
            // Once the queue is empty nothing is left that could be sent again.
            #expect(await waitFor { (try? QueueSnapshot(path: agent.queuePath).events.count) == 0 })
            #expect(mock.deliveredCount == 50, "exactly once")
            #expect(sequenceNumbers(mock.deliveredEvents) == Array(1...50))
            let times = arrivals.withLockedValue { $0 }
            try #require(times.count >= failures + 1)
            // Wait before retry n is in [d/2, d] with d = min(0.8, 0.1·2^(n-1)), plus scheduling slack.
            for attempt in 1...failures {
                let gap = times[attempt] - times[attempt - 1]
                let nominal = min(0.8, 0.1 * pow(2, Double(attempt - 1)))
                #expect(
                    gap >= .milliseconds(Int(nominal / 2 * 1000) - 5),
                    "attempt \(attempt): \(gap) < \(nominal / 2)"
                )
                #expect(gap <= .milliseconds(Int(nominal * 1000) + 400), "attempt \(attempt): \(gap) > \(nominal)")
            }
            let status = try await agent.status()
            let delivery = try #require(status["delivery"] as? [String: Any])
            #expect(delivery["state"] as? String == "ok")
            #expect((delivery["lastError"] as? [String: Any])?["status"] as? Int == 503)
            #expect(delivery["deliveredEvents"] as? Int == 50)
        }
    }

    @Test("SIGTERM with the upstream down: exit within drainTimeoutSeconds + 1 s, events kept")
    func sigtermWithUpstreamDown() async throws {
        let overrides: [String: Any] = ["delivery": ["drainTimeoutSeconds": 2, "retryInitialSeconds": 0.1]]
        try await withUpstream(.always(.status(503, message: "down", retryable: true)), overrides: overrides) {
            agent,
            _ in
            _ = try UnixSocketClient.exchange(path: agent.socketPath, lines(1...30))
            let start = ContinuousClock.now
            agent.signal(SIGTERM)
            let status = await agent.waitForExit(timeout: .seconds(10))
            let took = ContinuousClock.now - start
            #expect(status == 0)
            #expect(took < .seconds(3), "took \(took)")
            #expect(try QueueSnapshot(path: agent.queuePath).events.count == 30)
        }
    }
    @Test("flush skips a long backoff: retryMaxSeconds 300, upstream back, delivered within 2 s")
    func flushSkipsBackoff() async throws {
        let overrides: [String: Any] = ["delivery": ["retryInitialSeconds": 300, "retryMaxSeconds": 300]]
        try await withUpstream(.always(.status(503, message: "down", retryable: true)), overrides: overrides) {
            agent,
            mock in
            _ = try UnixSocketClient.exchange(path: agent.socketPath, lines(1...5))
            #expect(await waitForAsync { (try? await agent.deliveryState()) == "retrying" })
            mock.respond(.alwaysSuccess)
            let start = ContinuousClock.now
            let flush = try await agent.modactl("flush")
            #expect(flush.status == 0)
            #expect(await mock.waitForDeliveredCount(5, timeout: .seconds(2)))
            #expect(ContinuousClock.now - start < .seconds(2))
        }
    }

    @Test func delayAnswersLaterWithoutBlockingOthers() async throws {
        try await MockModaServerTests.withServer { server in
            server.respond { request in
                request.field("slow", ofEvent: 0) == true ? .delay(1, then: .success) : .success
            }
            let clock = ContinuousClock()
            let start = clock.now
            async let slow = MockModaServerTests.post(#"{"events":[{"slow":true}]}"#, to: server)
            #expect(await waitFor { server.requestCount >= 1 }, "the slow request arrives first")
            let fast = try await MockModaServerTests.post(#"{"events":[{"slow":false}]}"#, to: server)
            let fastDone = clock.now - start
            #expect(fast.status == 200)
            #expect(fastDone < .milliseconds(800))
            #expect(server.deliveredEvents == [#"{"slow":false}"#])
            let slowReply = try await slow
            #expect(slowReply.status == 200)
            #expect(clock.now - start >= .seconds(1))
            #expect(server.deliveredEvents == [#"{"slow":false}"#, #"{"slow":true}"#])
        }
    }

    @Test("events arriving during a backoff do not cut it short")
    func backoffHoldsUnderIngest() async throws {
        let overrides: [String: Any] = [
            "delivery": ["retryInitialSeconds": 1, "retryMaxSeconds": 1],
            "batch": ["maxEvents": 10, "flushIntervalMs": 10],
        ]
        try await withUpstream(.always(.status(503, message: "down", retryable: true)), overrides: overrides) {
            agent,
            mock in
            let start = ContinuousClock.now
            var next = 1
            while ContinuousClock.now - start < .seconds(3) {
                // Full batches keep arriving all through the outage.
                _ = try UnixSocketClient.exchange(path: agent.socketPath, lines(next...(next + 19)))
                next += 20
                try await Task.sleep(for: .milliseconds(100))  // the pace of the load under test
            }
            // One first attempt, then one per backoff wait of at least 0.5 s: at most 7 in 3 s.
            #expect(mock.requestCount <= 7, "\(mock.requestCount) requests in 3 s")
            #expect(mock.requestCount >= 2)
        }
    }

    @Test("deliveries keep flowing while ingest commits back to back")
    func deliveryIsNotStarvedByIngest() async throws {
        try await withUpstream(overrides: ["batch": ["flushIntervalMs": 10]]) { agent, mock in
            let client = try agent.client()
            let stop = NIOLockedValueBox(false)
            // One writer that never waits for replies (a reader drains them), so the ingest writer
            // always has the next group ready the moment it commits.
            let writer = Thread {
                var next = 1
                while !stop.withLockedValue({ $0 }) {
                    guard (try? client.send(lines(next...(next + 99)))) != nil else { return }
                    next += 100
                }
            }
            let reader = Thread { _ = client.readAll(timeout: .seconds(20)) }
            writer.start()
            reader.start()
            try await Task.sleep(for: .seconds(4))  // the sustained load under test
            let deliveredUnderLoad = mock.deliveredCount
            stop.withLockedValue { $0 = true }
            client.finishWriting()
            #expect(deliveredUnderLoad >= 10_000, "only \(deliveredUnderLoad) delivered in 4 s of sustained ingest")
            #expect(!agent.log().contains("cannot remove the batch"))
        }
    }
}
