import Foundation
import ModaAgentTestSupport
import Testing

@testable import ModaAgentCore

/// docs/operating.md: every wait runs on the monotonic clock. Stored receive times are wall-clock, for
/// display; a wall clock stepped back must not hold a batch.
@Suite("clocks")
struct ClockTests {
    @Test("events stamped an hour in the future (the wall clock was stepped back since) leave within the flush interval")
    func wallClockSteppedBackDoesNotHoldBatches() async throws {
        try await withUpstream(.always(.status(503, message: "down", retryable: true))) { agent, mock in
            _ = try UnixSocketClient.exchange(path: agent.socketPath, lines(1...3))
            #expect(await agent.stop() == 0)
            // As if these had been received an hour before the clock was set back by an hour.
            let db = try SQLiteConnection(path: agent.queuePath)
            try db.execute("UPDATE events SET received_at = received_at + 3600")
            db.close()

            mock.respond(.alwaysSuccess)
            try await agent.start()
            let delivered = await mock.waitForDeliveredCount(3, timeout: .seconds(10))
            #expect(delivered, "a partial batch waited on the wall clock:\n\(agent.log())")
        }
    }
}
