import Foundation
import ModaAgentTestSupport
import Testing

/// docs/operating.md: a request, from connecting to its response's last byte, takes at most
/// `delivery.timeoutSeconds`; past that it is a retryable timeout that `status` shows.
@Suite("a stalled upstream")
struct StalledUpstreamTests {
    @Test(
        "a response body that stalls or trickles times out, shows in lastError and is retried",
        arguments: [StallingUpstream.Mode.stallAfterHeaders, .trickle]
    )
    func bodyIsBoundedByTheTimeout(mode: StallingUpstream.Mode) async throws {
        let upstream = try StallingUpstream(mode: mode)
        defer { upstream.stop() }
        let overrides: [String: Any] = [
            "endpoint": upstream.endpoint,
            "delivery": ["timeoutSeconds": 2, "retryInitialSeconds": 0.2, "retryMaxSeconds": 0.5],
        ]
        try await AgentProcess.with(overrides: overrides) { agent in
            _ = try UnixSocketClient.exchange(path: agent.socketPath, lines(1...1))
            let started = ContinuousClock.now
            var lastError: [String: Any]?
            let timedOut = await waitForAsync(timeout: .seconds(30), every: .milliseconds(200)) {
                let delivery = (try? await agent.status())?["delivery"] as? [String: Any]
                lastError = delivery?["lastError"] as? [String: Any]
                return delivery?["state"] as? String == "retrying"
                    && (lastError?["message"] as? String)?.contains("timeout after 2 s") == true
            }
            #expect(timedOut, "status never showed the timeout; lastError: \(String(describing: lastError))")
            // The first attempt is cut at 2 s, not left to run on (without the bound it never ends, and
            // the message above never appears); generous, since `status` runs slowly on a loaded machine.
            #expect(ContinuousClock.now - started < .seconds(30))
            // Retried with backoff, and delivered once the upstream behaves.
            upstream.setMode(.success)
            let delivered = await waitFor(timeout: .seconds(15)) { upstream.deliveredEvents >= 1 }
            #expect(delivered, "the event was not delivered after the upstream recovered:\n\(agent.log())")
            #expect(upstream.answered.count >= 2)
            let empty = await waitForAsync(timeout: .seconds(10)) {
                ((try? await agent.status())?["queue"] as? [String: Any])?["events"] as? Int == 0
            }
            #expect(empty)
        }
    }
}
