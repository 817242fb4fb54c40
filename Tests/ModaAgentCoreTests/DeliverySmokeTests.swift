import Foundation
import ModaAgentTestSupport
import NIOConcurrencyHelpers
import Testing

/// The one end-to-end check of delivery's timing; every decision itself is checked instantly in
/// `DeliveryStateMachineTests`. Bounds are generous: this proves the driver runs the machine's
/// waits on a real clock, not their precision under load.
@Suite("delivery smoke")
struct DeliverySmokeTests {
    @Test("503 for a while, then 200: delivered exactly once, in order, after backing off")
    func serviceUnavailableThenSuccess() async throws {
        let arrivals = NIOLockedValueBox<[ContinuousClock.Instant]>([])
        let failures = 4
        let behavior = MockBehavior { _ in
            let count = arrivals.withLockedValue {
                $0.append(.now)
                return $0.count
            }
            return count <= failures
                ? .status(503, message: "Service temporarily unavailable", retryable: true) : .success
        }
        let overrides: [String: Any] = [
            "delivery": ["retryInitialSeconds": 0.1, "retryMaxSeconds": 0.4], "batch": ["flushIntervalMs": 10],
        ]
        try await withUpstream(behavior, overrides: overrides) { agent, mock in
            _ = try UnixSocketClient.exchange(path: agent.socketPath, lines(1...50))
            #expect(await mock.waitForDeliveredCount(50, timeout: .seconds(30)))
            #expect(await waitFor { (try? QueueSnapshot(path: agent.queuePath).events.count) == 0 })
            #expect(mock.deliveredCount == 50, "exactly once")
            #expect(sequenceNumbers(mock.deliveredEvents) == Array(1...50))
            let times = arrivals.withLockedValue { $0 }
            try #require(times.count >= failures + 1)
            // Each wait is at least half its nominal backoff: the driver never sends early.
            for attempt in 1...failures {
                let nominal = min(0.4, 0.1 * Double(1 << (attempt - 1)))
                let gap = times[attempt] - times[attempt - 1]
                #expect(gap >= .milliseconds(Int(nominal / 2 * 1000) - 5), "attempt \(attempt): \(gap)")
            }
            let status = try await agent.status()
            let delivery = try #require(status["delivery"] as? [String: Any])
            #expect(delivery["state"] as? String == "ok")
            #expect((delivery["lastError"] as? [String: Any])?["status"] as? Int == 503)
            #expect(delivery["deliveredEvents"] as? Int == 50)
        }
    }
}
