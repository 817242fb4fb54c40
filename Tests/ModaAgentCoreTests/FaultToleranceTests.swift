import Foundation
import ModaAgentTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Full disks, damaged files and upstream faults (docs/guarantees.md).
@Suite("fault tolerance")
struct FaultToleranceTests {
    @Test("a full disk refuses new lines retryably, keeps what is queued, and recovers without a restart")
    func fullDisk() async throws {
        let mountPoint = TemporaryDirectory()
        defer { mountPoint.remove() }
        guard mount("tmpfs", mountPoint.path, "tmpfs", 0, "size=8m") == 0 else {
            Issue.record("cannot mount a tmpfs here (\(String(cString: strerror(errno)))): run the tests as root")
            return
        }
        defer { umount(mountPoint.path) }
        let overrides: [String: Any] = [
            "queue": ["path": mountPoint.file("queue.db")], "batch": ["flushIntervalMs": 20],
        ]
        try await withUpstream(.always(.status(503, message: "down", retryable: true)), overrides: overrides) {
            agent,
            mock in
            let queuePath = mountPoint.file("queue.db")
            // Fill the disk through the agent until it refuses.
            var accepted = 0
            var refusal: String?
            for round in 0..<2000 where refusal == nil {
                let replies = try UnixSocketClient.exchange(
                    path: agent.socketPath,
                    lines((round * 50 + 1)...(round * 50 + 50)) { EventLines.typical($0) }
                )
                for reply in replies {
                    if reply == #"{"ok":true,"accepted":1}"# {
                        accepted += 1
                    } else if refusal == nil {
                        refusal = reply
                    }
                }
            }
            let message = try #require(refusal, "the disk never filled")
            #expect(message.contains(#""retryable":true"#), "\(message)")
            #expect(message.contains("queue write failed") && message.contains("retry later"), "\(message)")
            #expect(agent.isRunning)

            // Delivery goes on: upstream back, the queued events drain and free the space.
            mock.respond(.alwaysSuccess)
            #expect(await mock.waitForDeliveredCount(accepted, timeout: .seconds(30)))
            #expect(await waitFor(timeout: .seconds(20)) { (try? QueueSnapshot(path: queuePath).events.count) == 0 })
            #expect(mock.deliveredCount == accepted, "each event delivered once, not resent while the disk was full")
            // …and ingest recovers by itself once a checkpoint frees WAL space.
            let recovered = await waitFor(timeout: .seconds(20)) {
                (try? UnixSocketClient.exchange(path: agent.socketPath, lines(900_001...900_001))) == [
                    #"{"ok":true,"accepted":1}"#
                ]
            }
            #expect(recovered, "ingest did not recover after space returned: \(agent.log().suffix(2000))")
            #expect(try QueueSnapshot(path: queuePath).integrity == "ok")
            #expect(agent.isRunning)
        }
    }

    @Test("a damaged queue file is moved aside with a clear message and a fresh queue starts")
    func damagedDatabase() async throws {
        try await AgentProcess.with(start: false) { agent in
            try FileManager.default.createDirectory(
                atPath: (agent.queuePath as NSString).deletingLastPathComponent,
                withIntermediateDirectories: true
            )
            try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: agent.queuePath))
            try await agent.start()
            let replies = try UnixSocketClient.exchange(path: agent.socketPath, lines(1...3))
            #expect(replies.count == 3 && replies.allSatisfy { $0 == #"{"ok":true,"accepted":1}"# })
            #expect(agent.log().contains("the queue database was damaged"))
            let folder = (agent.queuePath as NSString).deletingLastPathComponent
            let aside = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.contains(".damaged-") }
            #expect(aside.count == 1, "the damaged file is kept: \(aside)")
            #expect(agent.log().contains("sqlite3 \(folder)/\(aside.first ?? "") .recover"))
        }
    }

    @Test("a queue path that cannot be opened refuses to start with a clear message")
    func unopenableQueue() async throws {
        try await AgentProcess.with(start: false) { agent in
            // A folder where the database file should be.
            try FileManager.default.createDirectory(atPath: agent.queuePath, withIntermediateDirectories: true)
            try await agent.start(waitUntilReady: false)
            let status = await agent.waitForExit(timeout: .seconds(20))
            #expect(status == 1)
            #expect(agent.log().contains("cannot open the queue database \(agent.queuePath)"))
        }
    }

    @Test("upstream faults: reset, 200 with a non-JSON body, retryable success:false, TLS failure — nothing lost")
    func upstreamFaults() async throws {
        let replies: [MockReply] = [
            .dropConnection,
            .raw(status: 200, headers: [("Content-Type", "text/html")], body: "<html>proxy error</html>"),
            .raw(status: 200, headers: [], body: #"{"success":false,"count":0,"message":"busy","retryable":true}"#),
            .raw(status: 503, headers: [("Retry-After", "0.1")], body: "unavailable"),
        ]
        let overrides: [String: Any] = ["batch": ["flushIntervalMs": 10]]
        try await withUpstream(.replying(replies), overrides: overrides) { agent, mock in
            _ = try UnixSocketClient.exchange(path: agent.socketPath, lines(1...25))
            #expect(await mock.waitForDeliveredCount(25, timeout: .seconds(20)))
            #expect(sequenceNumbers(mock.deliveredEvents) == Array(1...25))
            #expect(mock.requestCount >= 5)
        }
        // TLS against a server that speaks plain HTTP: the handshake fails; retried, kept.
        let plain = try await MockModaServer.start()
        defer { Task { try? await plain.shutdown() } }
        try await AgentProcess.with(overrides: ["endpoint": "https://127.0.0.1:\(plain.port)/v1/ingest"]) { agent in
            _ = try UnixSocketClient.exchange(path: agent.socketPath, lines(1...5))
            #expect(await waitForAsync { (try? await agent.deliveryState()) == "retrying" })
            #expect(try QueueSnapshot(path: agent.queuePath).events.count == 5)
            #expect(plain.deliveredCount == 0)
        }
        try await plain.shutdown()
    }

    @Test("a 200 with success:false and no retry is the API refusing the events: split and dead-lettered")
    func successFalseIsARejection() async throws {
        let reply = MockReply.raw(
            status: 200,
            headers: [],
            body: #"{"success":false,"count":0,"message":"schema mismatch","retryable":false}"#
        )
        try await withUpstream(.always(reply), overrides: ["batch": ["flushIntervalMs": 10]]) { agent, _ in
            _ = try UnixSocketClient.exchange(path: agent.socketPath, lines(1...2))
            #expect(await waitFor { (try? QueueSnapshot(path: agent.queuePath).deadLetters.count) == 2 })
        }
    }
}
