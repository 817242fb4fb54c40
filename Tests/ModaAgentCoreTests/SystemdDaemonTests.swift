import Foundation
import ModaAgentTestSupport
import Testing

/// The daemon under systemd's protocols, without systemd: a notify socket the test owns, and
/// `systemd-socket-activate` passing the listening socket.
@Suite("systemd integration (daemon)")
struct SystemdDaemonTests {
    @Test("READY=1, STATUS= following the queue, WATCHDOG=1 pings, STOPPING=1 on SIGTERM")
    func notifyProtocol() async throws {
        let listener = try DatagramListener()
        try await AgentProcess.with(start: false) { agent in
            try await agent.start(extraEnvironment: ["NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "400000"])
            #expect(listener.receive(until: { $0 == "READY=1" }) != nil)
            #expect(listener.receive(until: { $0.hasPrefix("STATUS=queued 0 events, delivery idle") }) != nil)
            #expect(listener.receive(until: { $0 == "WATCHDOG=1" }) != nil)

            // Upstream unreachable: the queue grows and delivery retries; STATUS says so.
            _ = try UnixSocketClient.exchange(path: agent.socketPath, lines(1...7))
            let status = listener.receive(until: { $0 == "STATUS=queued 7 events, delivery retrying" })
            #expect(status != nil, "STATUS follows the queue depth and the delivery state word")
            // Pings keep coming while the pipeline is alive.
            #expect(listener.receive(until: { $0 == "WATCHDOG=1" }) != nil)

            agent.signal(SIGTERM)
            #expect(listener.receive(until: { $0 == "STOPPING=1" }) != nil)
            #expect(await agent.waitForExit(timeout: .seconds(10)) == 0)
        }
    }

    @Test(
        "no WATCHDOG=1 without WATCHDOG_USEC, nor when WATCHDOG_PID names another process",
        arguments: [[:], ["WATCHDOG_USEC": "400000", "WATCHDOG_PID": "1"]] as [[String: String]]
    )
    func noWatchdogPingsUnlessAsked(watchdog: [String: String]) async throws {
        let listener = try DatagramListener()
        try await AgentProcess.with(start: false) { agent in
            try await agent.start(extraEnvironment: ["NOTIFY_SOCKET": listener.path].merging(watchdog) { $1 })
            var seen: [String] = []
            let record: (String) -> Bool = { message in
                seen.append(message)
                return false
            }
            #expect(listener.receive(until: { record($0) || $0 == "READY=1" }) != nil)
            // The heartbeat beats at once after READY and then every second: a STATUS change and two
            // beats later, a ping would have come.
            _ = try UnixSocketClient.exchange(path: agent.socketPath, lines(1...3))
            #expect(listener.receive(until: { record($0) || $0 == "STATUS=queued 3 events, delivery retrying" }) != nil)
            let beat = ContinuousClock.now
            #expect(await waitFor(timeout: .seconds(5)) { ContinuousClock.now - beat > .seconds(2) })
            agent.signal(SIGTERM)
            #expect(listener.receive(until: { record($0) || $0 == "STOPPING=1" }) != nil)
            #expect(await agent.waitForExit(timeout: .seconds(10)) == 0)
            #expect(!seen.contains("WATCHDOG=1"), "pinged a watchdog nobody configured: \(seen)")
        }
    }

    @Test(
        "under systemd-socket-activate: lines are acknowledged and delivered, the socket is not re-created",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-socket-activate"))
    )
    func socketActivation() async throws {
        try await withUpstream(startAgent: false) { agent, mock in
            let activated = agent.directory.file("activated.sock")
            // The launched daemon gets only the variables passed with -E.
            let process = try ChildProcess(
                executable: "/usr/bin/systemd-socket-activate",
                arguments: [
                    "-l", activated, "-E", "MODA_API_KEY=\(agent.apiKey)", BuiltProducts.agent, "--config",
                    agent.configPath,
                ],
                environment: ChildProcess.cleanEnvironment()
            )
            defer { process.signal(SIGKILL) }
            // systemd-socket-activate listens first and starts the daemon on the first connection.
            #expect(await waitFor { FileManager.default.fileExists(atPath: activated) })
            let replies = try UnixSocketClient.exchange(path: activated, lines(1...10))
            #expect(replies.count == 10 && replies.allSatisfy { $0 == #"{"ok":true,"accepted":1}"# })
            #expect(await mock.waitForDeliveredCount(10, timeout: .seconds(10)))
            #expect(!FileManager.default.fileExists(atPath: agent.socketPath), "its own socket.path was never bound")
            process.signal(SIGTERM)
            #expect(await process.waitForExit(timeout: .seconds(10)) == 0)
        }
    }
}
