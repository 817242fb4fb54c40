import Foundation
import ModaAgentTestSupport
import NIOConcurrencyHelpers
import Testing

/// docs/guarantees.md under stress: kill -9 at random moments, under load, while the upstream flaps.
/// Quick in CI; `MODA_CRASH_CYCLES=200 swift test --filter CrashLoopTests` for the long form.
@Suite("crash loop")
struct CrashLoopTests {
    @Test("20 × kill -9 under a 4-connection load with a flapping upstream: nothing acknowledged is lost")
    func crashLoop() async throws {
        let cycles = Int(ProcessInfo.processInfo.environment["MODA_CRASH_CYCLES"] ?? "") ?? 20
        var random = SeededGenerator(seed: 0xC0FFEE)
        let requests = NIOLockedValueBox(0)
        // Flapping: every third request 503, every fifth dropped, the rest accepted.
        let flapping = MockBehavior { _ in
            let number = requests.withLockedValue {
                $0 += 1; return $0
            }
            if number % 5 == 0 { return .dropConnection }
            if number % 3 == 0 { return .status(503, message: "Service temporarily unavailable", retryable: true) }
            return .success
        }
        let overrides: [String: Any] = [
            "delivery": ["retryInitialSeconds": 0.02, "retryMaxSeconds": 0.1, "timeoutSeconds": 2],
            "batch": ["flushIntervalMs": 20, "maxEvents": 200],
        ]
        try await withUpstream(flapping, overrides: overrides, startAgent: false) { agent, mock in
            var acknowledged = Set<Int>()
            var sent = 0
            for cycle in 0..<cycles {
                try await agent.start()
                let load = LoadClients()
                load.start(socketPath: agent.socketPath, connections: 4, firstSeq: cycle * 10_000_000)
                // The kill comes at a random moment of the load: that is the test, not a wait.
                try await Task.sleep(for: .milliseconds(Int.random(in: 50...400, using: &random)))
                await agent.crash()
                load.waitForWriters()
                acknowledged.formUnion(load.acknowledgedSeqs)
                sent += load.sent
                #expect(try QueueSnapshot(path: agent.queuePath).integrity == "ok", "integrity after cycle \(cycle)")
            }
            mock.respond(.alwaysSuccess)
            try await agent.start()
            let complete = await waitFor(timeout: .seconds(90)) {
                Set(sequenceNumbers(mock.deliveredEvents)).isSuperset(of: acknowledged)
            }
            let delivered = sequenceNumbers(mock.deliveredEvents)
            let unique = Set(delivered)
            let lost = acknowledged.subtracting(unique).count
            print(
                "crash loop: \(cycles) cycles, \(sent) events sent, \(acknowledged.count) acknowledged, "
                    + "\(unique.count) delivered (\(delivered.count - unique.count) duplicates), \(lost) lost"
            )
            #expect(complete)
            #expect(lost == 0)
            #expect(acknowledged.count > cycles * 10, "the load actually ran")
            #expect(try QueueSnapshot(path: agent.queuePath).integrity == "ok")
        }
    }
}
