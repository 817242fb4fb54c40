import Foundation
import ModaAgentTestSupport
import Testing

@Suite("backlog memory")
struct BacklogMemoryTests {
    @Test("1,000,000 events queued with the upstream down: RSS stays within a few MB of idle")
    func millionQueuedEventsCostNoMemory() async throws {
        let overrides: [String: Any] = ["delivery": ["retryInitialSeconds": 0.05, "retryMaxSeconds": 0.1]]
        try await withUpstream(.always(.status(503, message: "down", retryable: true)), overrides: overrides) {
            agent,
            mock in
            // Idle: empty queue (nothing to send, so nothing is tried), up for a second by its own account.
            #expect(
                await waitForAsync {
                    let daemon = (try? await agent.status())?["daemon"] as? [String: Any]
                    return (daemon?["uptimeSeconds"] as? Double ?? 0) >= 1
                }
            )
            let idle = try #require(ProcessMemory.rss(pid: agent.pid))
            _ = await agent.stop()

            try QueueFiller.fill(path: agent.queuePath, count: 1_000_000) { EventLines.typical($0) }
            try await agent.start()
            // Let it read and retry the head batch many times.
            #expect(await waitFor(timeout: .seconds(30)) { mock.requestCount >= 20 })
            let loaded = try #require(ProcessMemory.rss(pid: agent.pid))
            let status = try await agent.status()
            #expect((status["queue"] as? [String: Any])?["events"] as? Int == 1_000_000)
            print(
                "RSS idle \(idle.current) KiB (peak \(idle.peak)); with 1M queued \(loaded.current) KiB (peak \(loaded.peak))"
            )
            #expect(
                loaded.peak - idle.peak < 12 * 1024,
                "peak RSS grew \(loaded.peak - idle.peak) KiB with the backlog"
            )
        }
    }
}
