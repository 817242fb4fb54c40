import Foundation
import ModaAgentTestSupport
import Testing

/// The socket protocol end to end (docs/protocol.md), against the built daemon.
@Suite("ingest socket")
struct IngestSocketTests {
    @Test("events of every shape and envelopes are acknowledged and stored with timestamp and environment")
    func acceptsEventsAndEnvelopes() async throws {
        try await AgentProcess.with(overrides: ["environment": "staging"]) { agent in
            let payload =
                [
                    #"{"conversation_id":"c1","role":"user","message":"hello","custom_field":{"kept":true}}"#,
                    #"{"environment":"production","events":[{"conversation_id":"c2","role":"assistant","message":"a"},{"messageType":"tool_call","id":"t1","conversationId":"c2","name":"search","timestamp":"2024-01-15T10:30:00Z"}]}"#,
                    #"{"events":[{"messageType":"channel","id":"m1","conversationId":"th","message":"hi","role":"user","environment":"dev"}]}"#,
                ].joined(separator: "\n") + "\n"
            let replies = try UnixSocketClient.exchange(path: agent.socketPath, payload)
            #expect(
                replies == [#"{"ok":true,"accepted":1}"#, #"{"ok":true,"accepted":2}"#, #"{"ok":true,"accepted":1}"#]
            )

            let events = try QueueSnapshot(path: agent.queuePath).parsedEvents
            try #require(events.count == 4)
            #expect((events[0]["custom_field"] as? [String: Any])?["kept"] as? Bool == true)
            #expect(events[0]["environment"] as? String == "staging")
            #expect(events[1]["environment"] as? String == "production")
            #expect(events[2]["environment"] as? String == "production")
            #expect(events[2]["timestamp"] as? String == "2024-01-15T10:30:00Z")
            #expect(events[3]["environment"] as? String == "dev")
            let stamped = try #require(events[0]["timestamp"] as? String)
            #expect(
                stamped.count == 24 && stamped.hasSuffix("Z"),
                "receive time in ISO 8601 UTC with milliseconds: \(stamped)"
            )
        }
    }

    @Test("blank lines, CRLF, bad JSON, bad UTF-8, long lines and big events each get the reply docs/protocol.md says")
    func framingEdgeCases() async throws {
        try await AgentProcess.with(overrides: ["socket": ["maxLineBytes": 1024], "batch": ["maxEventBytes": 512]]) {
            agent in
            let client = try agent.client()
            var payload: [UInt8] = []
            payload += Array((EventLines.standard(1) + "\n").utf8)  // line 1
            payload += Array("\n   \n".utf8)  // lines 2, 3: blank, no reply
            payload += Array((EventLines.standard(4) + "\r\n").utf8)  // line 4: CRLF
            payload += Array("{\"conversation_id\": \n".utf8)  // line 5: malformed
            payload += [0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x7D, 0x0A]  // line 6: invalid UTF-8
            payload += Array(("{\"x\":\"" + String(repeating: "a", count: 3000) + "\"}\n").utf8)  // line 7: too long
            let big =
                "{\"conversation_id\":\"c\",\"role\":\"user\",\"message\":\"" + String(repeating: "b", count: 700)
                + "\"}"
            payload += Array((big + "\n").utf8)  // line 8: event over maxEventBytes
            payload += Array(EventLines.standard(9).utf8)  // line 9: no final newline
            try client.send(payload)
            client.finishWriting()
            let replies = client.readAll()
            try #require(replies.count == 7, "one reply per non-blank line: \(replies)")
            #expect(replies[0] == #"{"ok":true,"accepted":1}"#)
            #expect(replies[1] == #"{"ok":true,"accepted":1}"#)
            #expect(
                replies[2].hasPrefix(#"{"ok":false,"accepted":0,"retryable":false,"error":"line 5: malformed JSON"#)
            )
            #expect(replies[3].contains(#""error":"line 6: invalid UTF-8"#))
            #expect(replies[4].contains(#""error":"line 7: line is longer than socket.maxLineBytes (1024 bytes)"#))
            #expect(replies[5].contains("line 8: ") && replies[5].contains("batch.maxEventBytes"))
            #expect(replies[6] == #"{"ok":true,"accepted":1}"#)
            let snapshot = try QueueSnapshot(path: agent.queuePath)
            #expect(snapshot.parsedEvents.compactMap { $0["seq"] as? Int } == [1, 4, 9])
        }
    }

    @Test("an over-long line is discarded up to its newline and the connection stays usable")
    func overLongLineKeepsConnection() async throws {
        try await AgentProcess.with(overrides: ["socket": ["maxLineBytes": 256]]) { agent in
            let client = try agent.client()
            // Sent in pieces so the limit is crossed before the newline arrives.
            try client.send(String(repeating: "z", count: 200))
            try client.send(String(repeating: "z", count: 200))
            let first = client.readLines(1)
            #expect(first.first?.contains("line 1: line is longer than socket.maxLineBytes") == true)
            try client.send(String(repeating: "z", count: 500) + "\n" + EventLines.standard(2) + "\n")
            let second = client.readLines(1)
            #expect(second == [#"{"ok":true,"accepted":1}"#])
        }
    }

    @Test("20,000 lines written without reading any reply, then closed: all queued")
    func unreadRepliesDoNotLoseEvents() async throws {
        try await AgentProcess.with { agent in
            let count = 20_000
            do {
                let client = try agent.client()
                let payload = (1...count).map { EventLines.typical($0) }.joined(separator: "\n") + "\n"
                try client.send(payload)
            }  // closed here, replies never read
            let queued = await waitFor(timeout: .seconds(60)) {
                (try? QueueSnapshot(path: agent.queuePath).counters["queued_events"]) == Int64(count)
            }
            #expect(queued)
            let seqs = try QueueSnapshot(path: agent.queuePath).parsedEvents.compactMap { $0["seq"] as? Int }
            #expect(seqs == Array(1...count))
            #expect(agent.isRunning)
        }
    }

    @Test("8 concurrent connections: every line queued, replies in order on each")
    func concurrentConnections() async throws {
        try await AgentProcess.with { agent in
            let perConnection = 2_000
            let socket = agent.socketPath
            let results = try await withThrowingTaskGroup(of: [String].self) { group in
                for connection in 0..<8 {
                    group.addTask {
                        // Every 100th line is broken, so order shows in which replies are errors.
                        let lines = (1...perConnection).map { index in
                            index % 100 == 0
                                ? "{broken \(connection)" : EventLines.standard(connection * 1_000_000 + index)
                        }
                        return try UnixSocketClient.exchange(path: socket, lines.joined(separator: "\n") + "\n")
                    }
                }
                var all: [[String]] = []
                for try await replies in group { all.append(replies) }
                return all
            }
            for replies in results {
                try #require(replies.count == perConnection)
                for (offset, reply) in replies.enumerated() {
                    let line = offset + 1
                    if line % 100 == 0 {
                        #expect(reply.contains("\"line \(line): "), "reply \(line) out of order: \(reply)")
                    } else {
                        #expect(reply == #"{"ok":true,"accepted":1}"#)
                    }
                }
            }
            let snapshot = try QueueSnapshot(path: agent.queuePath)
            #expect(snapshot.events.count == 8 * (perConnection - perConnection / 100))
        }
    }

    @Test("kill -9 right after acknowledgements: every acknowledged event is in the queue after restart")
    func acknowledgedEventsSurviveKill() async throws {
        try await AgentProcess.with { agent in
            let client = try agent.client()
            let count = 500
            try client.send((1...count).map { EventLines.standard($0) }.joined(separator: "\n") + "\n")
            let replies = client.readLines(count)
            #expect(replies.count == count && replies.allSatisfy { $0 == #"{"ok":true,"accepted":1}"# })
            await agent.crash()
            try await agent.start()
            let seqs = try QueueSnapshot(path: agent.queuePath).parsedEvents.compactMap { $0["seq"] as? Int }
            #expect(Set(seqs).isSuperset(of: Set(1...count)))
            #expect(try QueueSnapshot(path: agent.queuePath).integrity == "ok")
        }
    }

    @Test("a second daemon on the same queue exits 75; a stale socket from a crash does not block a start")
    func singleOwnerAndStaleSocket() async throws {
        try await AgentProcess.with { agent in
            let second = try ChildProcess(
                executable: BuiltProducts.agent,
                arguments: ["--config", agent.configPath],
                environment: ["MODA_API_KEY": "k"]
            )
            #expect(await second.waitForExit(timeout: .seconds(20)) == 75)

            await agent.crash()
            #expect(FileManager.default.fileExists(atPath: agent.socketPath), "kill -9 leaves the socket file behind")
            try await agent.start()
            let replies = try UnixSocketClient.exchange(path: agent.socketPath, EventLines.standard(1) + "\n")
            #expect(replies == [#"{"ok":true,"accepted":1}"#])
        }
    }

    @Test("a second daemon with another queue but the same socket exits 75")
    func socketOwnedByAnotherDaemon() async throws {
        try await AgentProcess.with { agent in
            try await AgentProcess.with(overrides: ["socket": ["path": agent.socketPath]], start: false) { other in
                try await other.start(waitUntilReady: false)
                #expect(await other.waitForExit(timeout: .seconds(20)) == 75)
                #expect(other.log().contains("another moda-agent answers on \(agent.socketPath)"))
            }
        }
    }

    @Test("SIGTERM: lines already sent are acknowledged, then the daemon exits 0")
    func sigtermFinishesReadLines() async throws {
        try await AgentProcess.with { agent in
            let client = try agent.client()
            try client.send((1...200).map { EventLines.standard($0) }.joined(separator: "\n") + "\n")
            let replies = client.readLines(200)
            #expect(replies.count == 200)
            #expect(await agent.stop() == 0)
            #expect(try QueueSnapshot(path: agent.queuePath).events.count == 200)
            #expect(!FileManager.default.fileExists(atPath: agent.socketPath))
        }
    }

    @Test("the socket is created with socket.mode")
    func socketMode() async throws {
        try await AgentProcess.with(overrides: ["socket": ["mode": "0600"]]) { agent in
            let attributes = try FileManager.default.attributesOfItem(atPath: agent.socketPath)
            #expect((attributes[.posixPermissions] as? Int) == 0o600)
        }
    }
}
