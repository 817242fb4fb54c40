import Foundation
import ModaAgentTestSupport
import NIOConcurrencyHelpers
import Testing

/// docs/tracing.md: replies carry `firstId`, and `modactl trace` follows those ids from queued to
/// delivered (with the `requestId` Moda answered) or dead-lettered, from the database alone.
@Suite("modactl trace: following events by id and conversation")
struct TraceTests {
    /// Accepts every batch with the `requestId` "req-N" (N the request's arrival number), refuses
    /// any batch holding a "poison" event as the API does (400, so the agent splits it down to it).
    static let upstream = MockBehavior { request in
        if let bad = request.eventsJSON.firstIndex(where: { $0.contains("poison") }) {
            return .status(400, message: "events[\(bad)]: poison is not allowed", retryable: false)
        }
        return .raw(
            status: 200,
            headers: [("Content-Type", "application/json")],
            body: #"{"success":true,"count":\#(request.eventCount),"requestId":"req-\#(request.number)"}"#
        )
    }

    static func event(_ seq: Int, conversation: String = "c-trace", text: String = "hello") -> String {
        #"{"conversation_id":"\#(conversation)","role":"user","message":"\#(text) \#(seq)","seq":\#(seq)}"#
    }

    static func traced(_ agent: AgentProcess, _ arguments: [String]) async throws -> [[String: Any]] {
        let result = try await CommandRunner.modactl(["trace", "--json"] + arguments, config: agent.configPath)
        #expect(result.status == 0, "\(result.stderr)")
        return (try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]]) ?? []
    }

    /// The number of the mock's request that delivered the event with this `seq`.
    static func request(delivering seq: Int, _ mock: MockModaServer) -> Int? {
        mock.requests.last { request in
            request.eventsJSON.contains { Self.has(seq, $0) } && !request.eventsJSON.contains { $0.contains("poison") }
        }?.number
    }

    static func has(_ seq: Int, _ json: String) -> Bool {
        json.contains(#""seq":\#(seq),"#) || json.contains(#""seq":\#(seq)}"#)
    }

    @Test(
        "socket and HTTP events: firstId, then queued, then delivered with Moda's requestId; a poisoned one dead-lettered"
    )
    func queuedThenDelivered() async throws {
        try await withUpstream(
            .always(.status(503, message: "down for a moment", retryable: true)),
            overrides: ["http": ["listen": "127.0.0.1:0"]]
        ) { agent, mock in
            // Socket: an envelope of two events, then one event; ids are consecutive within a line.
            let socketReplies = try UnixSocketClient.exchange(
                path: agent.socketPath,
                #"{"events":[\#(Self.event(1)),\#(Self.event(2))]}"# + "\n" + Self.event(3) + "\n",
                keepingFirstId: true
            )
            #expect(socketReplies.count == 2 && socketReplies[0].hasPrefix(#"{"ok":true,"accepted":2,"firstId":"#))
            let first = try #require(socketReplies.first.flatMap(ReplyText.firstId))
            #expect(socketReplies.last.flatMap(ReplyText.firstId) == first + 2, "\(socketReplies)")
            // HTTP: "firstId" beside "count".
            let host = try #require(await HTTPIngestTests.address(agent))
            let answer = try await HTTPIngestTests.curl(
                "http://\(host)/v1/ingest",
                [
                    "-H", "Content-Type: application/json", "--data",
                    #"{"events":[\#(Self.event(4)),\#(Self.event(5))]}"#,
                ],
                directory: agent.directory
            )
            #expect(answer.status == 200 && answer.json["count"] as? Int == 2)
            let httpFirst = try #require(answer.json["firstId"] as? Int)
            #expect(httpFirst == Int(first) + 3, "ids are never reused and follow on: \(answer.json)")
            let ids = (0..<5).map { String(Int(first) + $0) }

            // The upstream is down: every event is queued (or in flight), none delivered.
            let waiting = try await Self.traced(agent, ids)
            #expect(waiting.count == 5)
            #expect(waiting.allSatisfy { ["queued", "in flight"].contains($0["state"] as? String) }, "\(waiting)")

            mock.respond(Self.upstream)
            let poison = try UnixSocketClient.exchange(
                path: agent.socketPath,
                Self.event(6, text: "poison") + "\n",
                keepingFirstId: true
            )
            let poisonID = try #require(poison.first.flatMap(ReplyText.firstId))
            #expect(await mock.waitForDeliveredCount(5, timeout: .seconds(20)))
            var traces: [[String: Any]] = []
            _ = await waitForAsync(timeout: .seconds(10)) {
                traces = (try? await Self.traced(agent, ids + [String(poisonID)])) ?? []
                return traces.count == 6
                    && traces.allSatisfy { ["delivered", "dead-lettered"].contains($0["state"] as? String) }
            }
            for (offset, trace) in traces.prefix(5).enumerated() {
                #expect(trace["state"] as? String == "delivered", "\(trace)")
                #expect(trace["status"] as? Int == 200)
                let number = try #require(Self.request(delivering: offset + 1, mock))
                #expect(
                    trace["requestId"] as? String == "req-\(number)",
                    "the requestId of the request that carried it"
                )
                #expect((trace["latencyMs"] as? Double).map { $0 >= 0 } ?? (trace["latencyMs"] as? Int != nil))
            }
            let dead = try #require(traces.last)
            #expect(dead["state"] as? String == "dead-lettered", "\(dead)")
            #expect(dead["status"] as? Int == 400)
            #expect((dead["message"] as? String)?.contains("poison is not allowed") == true)
            let letters = try await agent.modactl("dead-letters", "list", "--json")
            let listed = try JSONSerialization.jsonObject(with: Data(letters.stdout.utf8)) as? [[String: Any]]
            #expect(dead["deadLetterId"] as? Int == listed?.first?["id"] as? Int)

            // By conversation: all six, and the same answers with the daemon stopped.
            let byConversation = try await Self.traced(agent, ["--conversation", "c-trace"])
            #expect(byConversation.map { $0["id"] as? Int } == (ids + [String(poisonID)]).map { Int($0) })
            #expect(await agent.stop() == 0)
            let stopped = try await Self.traced(agent, ["--conversation", "c-trace", "--since", "1h"])
            #expect(stopped.map { $0["state"] as? String } == traces.map { $0["state"] as? String })
            let text = try await agent.modactl("trace", ids[0], "999999")
            #expect(text.stdout.contains("delivered") && text.stdout.contains("req-"), "\(text.stdout)")
            #expect(text.stdout.contains("unknown"), "\(text.stdout)")
        }
    }

    @Test(
        "kill -9 after the upstream took a batch but before its removal: traced queued, then delivered once sent again"
    )
    func crashBeforeRemoval() async throws {
        try await withUpstream(.always(.status(503, message: "not yet", retryable: true))) { agent, mock in
            let replies = try UnixSocketClient.exchange(
                path: agent.socketPath,
                Self.event(1) + "\n",
                keepingFirstId: true
            )
            let id = try #require(replies.first.flatMap(ReplyText.firstId))
            // The upstream takes the batch, and the agent dies before it can read the 2xx.
            let killed = NIOLockedValueBox(false)
            mock.respond(
                MockBehavior { request in
                    if killed.withLockedValue({ flag in
                        defer { flag = true }; return !flag
                    }) {
                        agent.signal(SIGKILL)
                    }
                    return Self.upstream.reply(request)
                }
            )
            _ = await agent.waitForExit(timeout: .seconds(20))
            #expect(mock.requests.contains { $0.eventsJSON.contains { Self.has(1, $0) } })
            let afterCrash = try await Self.traced(agent, [String(id)])
            #expect(
                afterCrash.first?["state"] as? String == "queued",
                "never delivered while still queued: \(afterCrash)"
            )

            mock.respond(Self.upstream)
            try await agent.start()
            var trace: [[String: Any]] = []
            _ = await waitForAsync(timeout: .seconds(20)) {
                trace = (try? await Self.traced(agent, [String(id)])) ?? []
                return trace.first?["state"] as? String == "delivered"
            }
            let number = try #require(Self.request(delivering: 1, mock))
            #expect(number > 1, "sent again after the restart")
            #expect(trace.first?["requestId"] as? String == "req-\(number)", "\(trace)")
        }
    }
}
