import Foundation
import ModaAgentTestSupport
import NIOConcurrencyHelpers
import Testing

/// Runs `body` with a mock Moda server and an agent pointed at it; both always stopped.
func withUpstream<T>(
    _ behavior: MockBehavior = .alwaysSuccess,
    overrides: [String: Any] = [:],
    startAgent: Bool = true,
    _ body: (AgentProcess, MockModaServer) async throws -> T
) async throws -> T {
    let mock = try await MockModaServer.start()
    mock.respond(behavior)
    var settings = overrides
    settings["endpoint"] = mock.endpoint
    do {
        let result = try await AgentProcess.with(overrides: settings, start: startAgent) { agent in
            try await body(agent, mock)
        }
        try await mock.shutdown()
        return result
    } catch {
        try? await mock.shutdown()
        throw error
    }
}

func sequenceNumbers(_ events: [String]) -> [Int] {
    events.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["seq"] as? Int }
}

func lines(_ range: ClosedRange<Int>, _ make: (Int) -> String = { EventLines.standard($0) }) -> String {
    range.map(make).joined(separator: "\n") + "\n"
}

@Suite("delivery")
struct DeliveryTests {
    @Test("full batches leave at once and never exceed batch.maxEvents; a partial one waits its interval")
    func fullBatchesLeaveAtOnce() async throws {
        try await withUpstream(overrides: ["batch": ["maxEvents": 10, "flushIntervalMs": 60_000]]) { agent, mock in
            let replies = try UnixSocketClient.exchange(path: agent.socketPath, lines(1...35))
            #expect(replies.count == 35)
            #expect(await mock.waitForDeliveredCount(30, timeout: .seconds(10)))
            // The three full batches are removed; the partial one stays queued for its 60 s interval.
            #expect(await waitFor { (try? QueueSnapshot(path: agent.queuePath).events.count) == 5 })
            #expect(mock.deliveredCount == 30, "the last 5 wait for flushIntervalMs (60 s)")
            #expect(mock.requests.allSatisfy { $0.eventCount <= 10 })
            #expect(sequenceNumbers(mock.deliveredEvents) == Array(1...30))
        }
    }

    @Test("no request body exceeds batch.maxBytes; maxInFlight 1 keeps one global order across conversations")
    func maxBytes() async throws {
        let overrides: [String: Any] = [
            "batch": ["maxBytes": 2048, "maxEventBytes": 1024], "delivery": ["maxInFlight": 1],
        ]
        try await withUpstream(overrides: overrides) { agent, mock in
            _ = try UnixSocketClient.exchange(path: agent.socketPath, lines(1...100) { EventLines.typical($0) })
            #expect(await mock.waitForDeliveredCount(100, timeout: .seconds(20)))
            #expect(mock.requests.allSatisfy { $0.body.count <= 2048 })
            #expect(mock.requests.count >= 100 * 300 / 2048)
            #expect(sequenceNumbers(mock.deliveredEvents) == Array(1...100))
        }
    }

    @Test(
        "non-retryable rejections split the batch: only the bad events are dead-lettered",
        arguments: [(400, [77]), (422, [5, 150, 151]), (413, [199])]
    )
    func poisonEventsAreIsolated(status: Int, poison: [Int]) async throws {
        let behavior = MockBehavior.rejectingEvents(where: { $0["poison"] == true }, status: status)
        try await withUpstream(behavior, overrides: ["batch": ["flushIntervalMs": 10]]) { agent, mock in
            let payload = lines(1...200) { index in
                poison.contains(index)
                    ? "{\"conversation_id\":\"bad-\(index)\",\"role\":\"user\",\"message\":\"poison \(index)\",\"poison\":true,\"seq\":\(index)}"
                    : EventLines.standard(index)
            }
            let replies = try UnixSocketClient.exchange(path: agent.socketPath, payload)
            #expect(replies.count == 200)
            #expect(await mock.waitForDeliveredCount(200 - poison.count, timeout: .seconds(30)))
            let settled = await waitFor {
                let snapshot = try? QueueSnapshot(path: agent.queuePath)
                return snapshot?.deadLetters.count == poison.count && snapshot?.events.count == 0
            }
            #expect(settled, "dead letters recorded and the delivered events removed from the queue")
            #expect(sequenceNumbers(mock.deliveredEvents) == (1...200).filter { !poison.contains($0) })
            let snapshot = try QueueSnapshot(path: agent.queuePath)
            // Poison events of different conversations travel in different lanes: dead-lettered in any order.
            #expect(sequenceNumbers(snapshot.deadLetters).sorted() == poison)
            let list = try await agent.modactl("dead-letters", "list", "--json")
            #expect(list.status == 0)
            let letters = try #require(
                try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]]
            )
            #expect(letters.count == poison.count)
            for letter in letters {
                let index = Int(((letter["conversationId"] as? String) ?? "").dropFirst("bad-".count)) ?? -1
                #expect(poison.contains(index))
                #expect(letter["status"] as? Int == status)
                #expect((letter["error"] as? String)?.contains("rejected by the mock server") == true)
                #expect((letter["requestId"] as? String)?.isEmpty == false)
                #expect(letter["conversationId"] as? String == "bad-\(index)")
                #expect(letter["preview"] as? String == "poison \(index)")
                #expect(letter["id"] is Int && letter["time"] is String)
            }
        }
    }

    @Test("401: nothing dead-lettered, state unauthorized; after fixing the key and SIGHUP, delivered")
    func unauthorizedPausesUntilReload() async throws {
        let behavior = MockBehavior { request in
            request.headers["authorization"] == "Bearer good-key"
                ? .success : .status(401, message: "Invalid or missing API key", retryable: false)
        }
        try await withUpstream(behavior, overrides: ["delivery": ["retryMaxSeconds": 300]], startAgent: false) {
            agent,
            mock in
            try "bad-key\n".write(toFile: agent.directory.file("api-key"), atomically: true, encoding: .utf8)
            agent.apiKeyInEnvironment = false
            try await agent.start()
            _ = try UnixSocketClient.exchange(path: agent.socketPath, lines(1...20))
            #expect(await waitForAsync { (try? await agent.deliveryState()) == "unauthorized" })
            let status = try await agent.status()
            let lastError = (status["delivery"] as? [String: Any])?["lastError"] as? [String: Any]
            #expect(lastError?["status"] as? Int == 401)
            #expect(lastError?["message"] as? String == "Invalid or missing API key")
            #expect((status["deadLetters"] as? [String: Any])?["events"] as? Int == 0)
            #expect((status["queue"] as? [String: Any])?["events"] as? Int == 20)

            try "good-key\n".write(toFile: agent.directory.file("api-key"), atomically: true, encoding: .utf8)
            agent.signal(SIGHUP)
            #expect(await mock.waitForDeliveredCount(20, timeout: .seconds(10)))
            #expect(await waitForAsync { (try? await agent.deliveryState()) == "ok" })
            #expect(
                !agent.log().contains("bad-key") && !agent.log().contains("good-key"),
                "the key never reaches the log"
            )
        }
    }

    @Test("404 pauses as misconfigured")
    func notFoundIsMisconfigured() async throws {
        try await withUpstream(.always(.status(404, message: "Not found", retryable: false))) { agent, _ in
            _ = try UnixSocketClient.exchange(path: agent.socketPath, lines(1...3))
            #expect(await waitForAsync { (try? await agent.deliveryState()) == "misconfigured" })
            #expect(try QueueSnapshot(path: agent.queuePath).deadLetters.isEmpty)
        }
    }

    @Test("dropped connections and timeouts are retried; nothing lost")
    func transportFailuresAreRetried() async throws {
        let behavior = MockBehavior.replying(
            [
                .dropConnection, .delay(2, then: .success), .dropConnection,
                .status(502, message: "Bad gateway", retryable: true),
            ])
        let overrides: [String: Any] = ["delivery": ["timeoutSeconds": 0.5], "batch": ["maxEvents": 25]]
        try await withUpstream(behavior, overrides: overrides) { agent, mock in
            _ = try UnixSocketClient.exchange(path: agent.socketPath, lines(1...100))
            #expect(await mock.waitForDeliveredCount(100, timeout: .seconds(30)))
            #expect(Set(sequenceNumbers(mock.deliveredEvents)) == Set(1...100))
            #expect(await waitFor { (try? QueueSnapshot(path: agent.queuePath).events.count) == 0 })
        }
    }

    @Test("an unreachable endpoint keeps everything queued, then delivers when it appears")
    func unreachableEndpoint() async throws {
        // Reserve a port, then free it: nothing listens there until the mock starts on it.
        let probe = try await MockModaServer.start()
        let port = probe.port
        try await probe.shutdown()
        try await AgentProcess.with(overrides: ["endpoint": "http://127.0.0.1:\(port)/v1/ingest"]) { agent in
            _ = try UnixSocketClient.exchange(path: agent.socketPath, lines(1...10))
            #expect(await waitForAsync { (try? await agent.deliveryState()) == "retrying" })
            #expect(try QueueSnapshot(path: agent.queuePath).events.count == 10)
            // What the operator reads: the cause, not "Moda is not accepting batches".
            let status = try await agent.modactl("status").stdout
            #expect(status.contains("Last error: no response: cannot connect to the endpoint: Connection refused"))
            #expect(status.contains("Nothing accepts connections at the endpoint"), "\(status)")
            #expect(!status.contains("Moda is not") && !status.contains("Moda answered"), "\(status)")
            // Log durations to the millisecond at most.
            let delays = agent.log().split(separator: "retry_in_seconds=").dropFirst().map {
                String($0.prefix { !$0.isWhitespace })
            }
            #expect(!delays.isEmpty)
            #expect(delays.allSatisfy { ($0.split(separator: ".").dropFirst().first?.count ?? 0) <= 3 }, "\(delays)")
            let mock = try await MockModaServer.start(port: port)
            #expect(await mock.waitForDeliveredCount(10, timeout: .seconds(15)))
            try await mock.shutdown()
        }
    }

    @Test("kill -9 with a batch in flight: sent again after restart, nothing lost")
    func crashWithBatchInFlight() async throws {
        try await withUpstream(.always(.delay(30, then: .success))) { agent, mock in
            _ = try UnixSocketClient.exchange(path: agent.socketPath, lines(1...40))
            #expect(await waitFor { mock.requestCount >= 1 })
            await agent.crash()
            mock.respond(.alwaysSuccess)
            try await agent.start()
            #expect(await mock.waitForDeliveredCount(40, timeout: .seconds(15)))
            #expect(sequenceNumbers(mock.deliveredEvents) == Array(1...40))
        }
    }

    @Test("SIGTERM with the upstream up: the queue is drained before exit")
    func sigtermDrains() async throws {
        try await withUpstream(overrides: [
            "batch": ["flushIntervalMs": 60_000], "delivery": ["drainTimeoutSeconds": 10],
        ]) {
            agent,
            mock in
            _ = try UnixSocketClient.exchange(path: agent.socketPath, lines(1...30))
            #expect(await agent.stop() == 0)
            #expect(mock.deliveredCount == 30)
            #expect(try QueueSnapshot(path: agent.queuePath).events.isEmpty)
        }
    }

}

@Suite("delivery with several batches in flight")
struct ConcurrentDeliveryTests {
    @Test("delivery.maxInFlight 4: concurrency ramps up to four requests at once, never more; everything delivered once")
    func fourInFlight() async throws {
        let overrides: [String: Any] = [
            "delivery": ["maxInFlight": 4], "batch": ["maxEvents": 20, "flushIntervalMs": 10],
        ]
        try await withUpstream(.always(.delay(0.05, then: .success)), overrides: overrides) { agent, mock in
            let conversation = { (index: Int) in EventLines.standard(index, conversation: "c\(index % 16)") }
            _ = try UnixSocketClient.exchange(path: agent.socketPath, lines(1...1000, conversation))
            #expect(await mock.waitForDeliveredCount(1000, timeout: .seconds(40)))
            let ramped = await waitForAsync {
                let delivery = try? await agent.status()["delivery"] as? [String: Any]
                return delivery?["concurrency"] as? Int == 4 && delivery?["maxInFlight"] as? Int == 4
            }
            #expect(ramped, "steady successes raise the concurrency to maxInFlight")
            let rampPeak = mock.takePeakUnanswered()
            #expect(rampPeak <= 4, "the ramp held \(rampPeak) requests unanswered at once")
            mock.respond(.always(.delay(10, then: .success)))
            let before = mock.requestCount
            _ = try UnixSocketClient.exchange(path: agent.socketPath, lines(1001...2000, conversation))
            #expect(await waitFor { mock.requestCount >= before + 4 })
            mock.respond(.alwaysSuccess)
            #expect(await mock.waitForDeliveredCount(2000, timeout: .seconds(40)))
            #expect(await waitFor { (try? QueueSnapshot(path: agent.queuePath).events.count) == 0 })
            // "Never more" measured where it is true, over the whole second half: the most requests the mock
            // held unanswered at once (the first four for 10 s, then successes). Counting the requests that
            // arrived in a one-second window instead saw 8 in some busy runs: the first four's conversations'
            // next batches, sent once those four had been answered, never more than four at once.
            let peak = mock.takePeakUnanswered()
            #expect(peak == 4, "at most maxInFlight requests unanswered at once, and that many: \(peak)")
            #expect(sequenceNumbers(mock.deliveredEvents).sorted() == Array(1...2000), "each event once")
        }
    }

    @Test("maxInFlight 4 with 503s and poison events: each conversation in order, only the poison dead-lettered")
    func concurrentRetriesAndSplits() async throws {
        let poison: Set<Int> = [17, 250, 251, 999]
        let requests = NIOLockedValueBox(0)
        let behavior = MockBehavior { request in
            let number = requests.withLockedValue {
                $0 += 1; return $0
            }
            if number % 4 == 0 { return .status(503, message: "busy", retryable: true) }
            if request.events.contains(where: { $0["poison"] == true }) {
                return .status(422, message: "bad event", retryable: false)
            }
            return .success
        }
        let overrides: [String: Any] = [
            "delivery": ["maxInFlight": 4, "retryInitialSeconds": 0.02, "retryMaxSeconds": 0.1],
            "batch": ["maxEvents": 100, "flushIntervalMs": 10],
        ]
        try await withUpstream(behavior, overrides: overrides) { agent, mock in
            let payload = lines(1...1000) { index in
                poison.contains(index)
                    ? "{\"conversation_id\":\"c\(index % 13)\",\"role\":\"user\",\"message\":\"x\",\"poison\":true,\"seq\":\(index)}"
                    : EventLines.standard(index, conversation: "c\(index % 13)")
            }
            _ = try UnixSocketClient.exchange(path: agent.socketPath, payload)
            let settled = await waitFor(timeout: .seconds(30)) {
                let snapshot = try? QueueSnapshot(path: agent.queuePath)
                return snapshot?.events.count == 0 && snapshot?.deadLetters.count == poison.count
            }
            #expect(settled)
            #expect(Set(sequenceNumbers(try QueueSnapshot(path: agent.queuePath).deadLetters)) == poison)
            let delivered = sequenceNumbers(mock.deliveredEvents)
            #expect(Set(delivered) == Set(1...1000).subtracting(poison))
            for conversation in 0..<13 {
                let sequence = delivered.filter { $0 % 13 == conversation }
                #expect(sequence == sequence.sorted(), "conversation c\(conversation) in the order acknowledged")
            }
            #expect(delivered != delivered.sorted(), "lanes did overlap (else this test proves nothing)")
        }
    }
}

@Suite("queue limits end to end")
struct QueueLimitTests {
    @Test("queue.maxBytes with whenFull reject: a retryable error, then accepted again once delivery frees space")
    func rejectRecoversWhenSpaceFrees() async throws {
        let overrides: [String: Any] = ["queue": ["maxBytes": 4096], "batch": ["flushIntervalMs": 10]]
        try await withUpstream(.always(.status(503, message: "down", retryable: true)), overrides: overrides) {
            agent,
            mock in
            let replies = try UnixSocketClient.exchange(path: agent.socketPath, lines(1...60))
            let refused = replies.filter { $0.contains(#""retryable":true"#) }
            #expect(!refused.isEmpty, "4096 bytes cannot hold 60 events")
            #expect(refused.allSatisfy { $0.contains("queue full:") && $0.contains("(queue.maxBytes 4096)") })
            #expect(agent.isRunning)

            mock.respond(.alwaysSuccess)
            let accepted = replies.filter { $0 == #"{"ok":true,"accepted":1}"# }.count
            #expect(await mock.waitForDeliveredCount(accepted, timeout: .seconds(15)))
            let recovered = await waitFor(timeout: .seconds(10)) {
                (try? UnixSocketClient.exchange(path: agent.socketPath, lines(61...70)))?
                    .allSatisfy { $0 == #"{"ok":true,"accepted":1}"# } == true
            }
            #expect(recovered)
        }
    }

    @Test("queue.maxBytes with whenFull dropOldest: the newest are kept, the dropped are counted in status")
    func dropOldestCountsInStatus() async throws {
        let overrides: [String: Any] = ["queue": ["maxBytes": 4096, "whenFull": "dropOldest"]]
        try await AgentProcess.with(overrides: overrides) { agent in
            let replies = try UnixSocketClient.exchange(path: agent.socketPath, lines(1...100))
            #expect(replies.allSatisfy { $0 == #"{"ok":true,"accepted":1}"# })
            let kept = sequenceNumbers(try QueueSnapshot(path: agent.queuePath).events)
            let first = try #require(kept.first)
            #expect(kept == Array(first...100), "the newest, in order")
            let queue = try #require(try await agent.status()["queue"] as? [String: Any])
            #expect(queue["droppedEvents"] as? Int == 100 - kept.count)
            #expect((queue["bytes"] as? Int ?? Int.max) <= 4096)
        }
    }
}
