import Foundation
import ModaAgentTestSupport
import NIOConcurrencyHelpers
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Input meant to hurt (docs/protocol.md: bad input never crashes the daemon, never affects others).
/// The fuzz run is seeded and time-boxed; `MODA_FUZZ_SECONDS=600` runs it longer.
@Suite("hostile input")
struct HostileInputTests {
    private static func hostileLines(_ random: inout SeededGenerator) -> [UInt8] {
        switch Int.random(in: 0..<9, using: &random) {
        case 0:  // random bytes, newlines included
            return (0..<Int.random(in: 1...512, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
        case 1:  // deep nesting
            let depth = Int.random(in: 500...10_000, using: &random)
            return Array((String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "\n").utf8)
        case 2:  // deep object nesting inside an event field
            let depth = Int.random(in: 500...10_000, using: &random)
            return Array(
                (#"{"conversation_id":"c","role":"user","message":"m","x":"#
                    + String(repeating: #"{"a":"#, count: depth)
                    + "1" + String(repeating: "}", count: depth) + "}\n").utf8
            )
        case 3:  // huge numbers
            return Array(
                #"{"conversation_id":"c","role":"user","message":"m","input_tokens":1e999999999,"n":-0.0000e-99999}"#
                    .utf8
            ) + [10]
        case 4:  // a string near the line limit
            return Array(
                ("{\"conversation_id\":\"c\",\"role\":\"user\",\"message\":\"" + String(repeating: "é", count: 30_000)
                    + "\"}\n").utf8
            )
        case 5:  // NUL bytes in and out of strings
            return Array(#"{"conversation_id":"c"#.utf8) + [0] + Array(#"","role":"user","message":"m"}"#.utf8) + [
                0, 10,
            ]
        case 6:  // unpaired surrogates
            return Array(#"{"conversation_id":"\uD800","role":"user","message":"\uDC00x"}"#.utf8) + [10]
        case 7:  // truncated envelope
            return Array(#"{"events":[{"conversation_id":"c","role":"user","message":"#.utf8) + [10]
        default:  // valid JSON of the wrong shape
            return Array(#"[1,2,{"events":{}},null,"x"]"#.utf8) + [10]
        }
    }

    static let minimumRounds = 5

    @Test("seeded fuzz: hostile lines on several connections; the daemon stays up and answers others correctly")
    func fuzz() async throws {
        let seconds = Double(ProcessInfo.processInfo.environment["MODA_FUZZ_SECONDS"] ?? "") ?? 3
        try await AgentProcess.with(overrides: ["socket": ["maxLineBytes": 65536]]) { agent in
            let baseline = try #require(ProcessMemory.rss(pid: agent.pid))
            let deadline = ContinuousClock.now + .seconds(seconds)
            let sentLines = NIOLockedValueBox(0)
            await withTaskGroup(of: Void.self) { group in
                for worker in 0..<3 {
                    group.addTask {
                        var random = SeededGenerator(seed: UInt64(worker) &* 7919 &+ 17)
                        // At least a few rounds however late the task starts: on a loaded machine a run
                        // bounded by time alone once sent nothing and passed.
                        var rounds = 0
                        while ContinuousClock.now < deadline || rounds < Self.minimumRounds {
                            rounds += 1
                            guard let client = try? agent.client() else { return }
                            var payload: [UInt8] = []
                            for _ in 0..<20 { payload += Self.hostileLines(&random) }
                            // Counted only when the daemon took the bytes.
                            let delivered = (try? client.send(payload)) != nil
                            client.finishWriting()
                            _ = client.readAll(timeout: .seconds(10))
                            if delivered { sentLines.withLockedValue { $0 += 20 } }
                        }
                    }
                }
                // A well-behaved client all along: every line accepted, in order.
                group.addTask {
                    var round = 0
                    while ContinuousClock.now < deadline || round < Self.minimumRounds {
                        round += 1
                        let replies = (try? UnixSocketClient.exchange(path: agent.socketPath, lines(1...50))) ?? []
                        #expect(replies.count == 50 && replies.allSatisfy { $0 == #"{"ok":true,"accepted":1}"# })
                    }
                }
            }
            #expect(agent.isRunning)
            let sent = sentLines.withLockedValue { $0 }
            #expect(sent >= 3 * 20 * Self.minimumRounds, "the fuzz run sent \(sent) hostile lines")
            let after = try #require(ProcessMemory.rss(pid: agent.pid))
            print(
                "fuzz: \(sentLines.withLockedValue { $0 }) hostile lines; RSS \(baseline.current) → \(after.current) KiB (peak \(after.peak))"
            )
            #expect(after.peak - baseline.current < 100 * 1024, "memory stays bounded")
            let replies = try UnixSocketClient.exchange(path: agent.socketPath, lines(1...1))
            #expect(replies == [#"{"ok":true,"accepted":1}"#])
        }
    }

    @Test("thousands of idle connections and a 1-byte-at-a-time sender do not affect other clients")
    func idleAndSlowClients() async throws {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let idleCount = min(3000, Int(limit.rlim_cur) - 200)
        try await AgentProcess.with(overrides: ["socket": ["maxConnections": 4096]]) { agent in
            let baseline = try #require(ProcessMemory.rss(pid: agent.pid))
            var idle: [UnixSocketClient] = []
            for _ in 0..<idleCount { idle.append(try agent.client()) }
            let slow = try agent.client()
            let line = Array((EventLines.standard(7) + "\n").utf8)
            for (index, byte) in line.enumerated() {
                try slow.send([byte])
                if index % 10 == 0 {
                    // Meanwhile a normal client is served at once.
                    let replies = try UnixSocketClient.exchange(
                        path: agent.socketPath,
                        lines(1...20),
                        timeout: .seconds(5)
                    )
                    #expect(replies.count == 20)
                }
                try await Task.sleep(for: .milliseconds(5))  // the slow sender under test
            }
            #expect(slow.readLines(1) == [#"{"ok":true,"accepted":1}"#])
            let loaded = try #require(ProcessMemory.rss(pid: agent.pid))
            print("idle: \(idleCount) connections; RSS \(baseline.current) → \(loaded.current) KiB")
            #expect(loaded.current - baseline.current < 64 * 1024, "\(idleCount) idle connections stay cheap")
            idle.removeAll()
            #expect(agent.isRunning)
        }
    }

    @Test("beyond socket.maxConnections a client gets a retryable error, not a hang")
    func connectionLimit() async throws {
        try await AgentProcess.with(overrides: ["socket": ["maxConnections": 2]]) { agent in
            // Connections are admitted on two event loops, so which one is refused is not fixed; and
            // the start-up probe's connection may still hold a slot for a moment.
            var clients = [try agent.client(), try agent.client(), try agent.client()]
            let answers = clients.map { $0.readLines(1, timeout: .seconds(2)) }
            let refused = answers.filter { !$0.isEmpty }
            #expect((1...2).contains(refused.count), "over the limit of 2: \(answers)")
            for reply in refused {
                #expect(reply.first?.contains("too many connections (socket.maxConnections 2); retry later") == true)
                #expect(reply.first?.contains(#""retryable":true"#) == true)
            }
            // Once clients leave, new ones are served again.
            clients.removeAll()
            let served = await waitFor(timeout: .seconds(10)) {
                (try? UnixSocketClient.exchange(path: agent.socketPath, lines(1...1))) == [#"{"ok":true,"accepted":1}"#]
            }
            #expect(served)
        }
    }

    @Test("neither program ever prints the API key")
    func apiKeyNeverPrinted() async throws {
        let key = "sk-moda-\(UUID().uuidString)"
        try await withUpstream(
            .always(.status(401, message: "Invalid or missing API key", retryable: false)),
            overrides: ["log": ["level": "trace"], "apiKey": key]
        ) { agent, _ in
            _ = await agent.stop()
            agent.apiKeyInEnvironment = false
            try await agent.start()
            _ = try UnixSocketClient.exchange(path: agent.socketPath, lines(1...3))
            #expect(await waitForAsync { (try? await agent.deliveryState()) == "unauthorized" })
            let check = try await CommandRunner.run(
                BuiltProducts.agent,
                ["--config", agent.configPath, "--check-config"]
            )
            let status = try await agent.modactl("status")
            let json = try await agent.modactl("status", "--json")
            agent.signal(SIGHUP)
            #expect(await waitFor { agent.log().contains("configuration reloaded") })
            _ = await agent.stop()
            let everything = [agent.log(), check.stdout, check.stderr, status.stdout, json.stdout].joined()
            #expect(check.status == 0)
            #expect(!everything.contains(key))
            #expect(!everything.contains(String(key.dropFirst(8).prefix(12))), "not even part of it")
        }
    }
}
