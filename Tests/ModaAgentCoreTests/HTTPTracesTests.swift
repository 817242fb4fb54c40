import Foundation
import ModaAgentCore
import ModaAgentTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// docs/protocol.md: OTLP/HTTP trace exports through the agent, from the OpenTelemetry Python SDK (the
/// Moda SDK's exporter) to a mock upstream that is down for a while and then up.
@Suite("HTTP receivers: OTLP traces", .serialized)
struct HTTPTracesTests {
    /// The mock upstream: `/v1/traces` answered 503 until `up`, events always accepted.
    final class Upstream: Sendable {
        let mock: MockModaServer
        private let isUp = Mutex(false)

        init(_ mock: MockModaServer) {
            self.mock = mock
            mock.respond { [self] request in
                guard request.path.hasPrefix("/v1/traces"), !isUp.withLock({ $0 }) else { return .success }
                return .status(503, message: "Service temporarily unavailable", retryable: true)
            }
        }

        func up() { isUp.withLock { $0 = true } }

        var traceRequests: [MockRequest] { mock.requests.filter { $0.path.hasPrefix("/v1/traces") } }
    }

    static func withAgent(
        _ overrides: [String: Any] = [:],
        _ body: (AgentProcess, Upstream, String) async throws -> Void
    ) async throws {
        let mock = try await MockModaServer.start()
        let upstream = Upstream(mock)
        var settings: [String: Any] = ["endpoint": mock.endpoint, "http": ["listen": "127.0.0.1:0"]]
        for (key, value) in overrides { settings[key] = value }
        do {
            try await AgentProcess.with(overrides: settings) { agent in
                let host = try #require(await HTTPIngestTests.address(agent), "no receivers in:\n\(agent.log())")
                try await body(agent, upstream, host)
            }
            try await mock.shutdown()
        } catch {
            try? await mock.shutdown()
            throw error
        }
    }

    struct Span: Codable, Hashable {
        var traceId: String
        var spanId: String
        var name: String
        var attributes: [String: String]
    }

    static func queuedExports(_ agent: AgentProcess) -> Int? {
        guard let store = try? QueueStore(operatorPath: agent.queuePath, access: .readOnly) else { return nil }
        defer { store.close() }
        return try? store.traceCounters().queuedExports
    }

    @Test(
        "the OpenTelemetry SDK's spans survive an upstream outage: every span arrives once, byte-equal in content",
        arguments: ["protobuf", "protobuf-gzip", "json", "json-gzip"]
    )
    func sdkThroughOutage(mode: String) async throws {
        try await Self.withAgent { agent, upstream, host in
            let count = 40
            let exported = try await OTelPython.run(
                OTelPython.exportScript,
                ["http://\(host)", mode, String(count), mode],
                in: agent.directory
            )
            #expect(exported.status == 0, "\(exported.stderr)")
            let report = try JSONSerialization.jsonObject(with: Data(exported.stdout.utf8)) as? [String: Any]
            let results = report?["exports"] as? [Bool] ?? []
            #expect(results.count >= 2 && results.allSatisfy { $0 }, "the agent accepted every export: \(results)")
            let spans = try JSONDecoder().decode(
                [Span].self,
                from: JSONSerialization.data(withJSONObject: report?["spans"] ?? [])
            )
            #expect(spans.count == count)

            // Down: the upstream refuses, nothing is lost, the exports wait in the queue.
            #expect(await waitFor(timeout: .seconds(20)) { upstream.traceRequests.count >= 3 })
            #expect(upstream.mock.deliveredTraces.isEmpty)
            #expect((Self.queuedExports(agent) ?? 0) > 0)
            let retrying = try await agent.status()["traces"] as? [String: Any]
            #expect((retrying?["queued"] as? Int ?? 0) > 0 && retrying?["state"] as? String == "retrying")

            upstream.up()
            #expect(await waitFor(timeout: .seconds(30)) { Self.queuedExports(agent) == 0 }, "\(agent.log())")

            let delivered = upstream.mock.deliveredTraces
            let folder = agent.directory.file("delivered")
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for (index, request) in delivered.enumerated() {
                try Data(request.body).write(to: URL(fileURLWithPath: "\(folder)/\(index).body"))
                try (request.headers["content-type"] ?? "").write(
                    toFile: "\(folder)/\(index).type",
                    atomically: true,
                    encoding: .utf8
                )
                #expect(request.headers["authorization"] == "Bearer \(agent.apiKey)", "the agent's key, not the app's")
                #expect(request.headers["user-agent"]?.hasPrefix("moda-agent/") == true)
                let json = mode.hasPrefix("json")
                #expect(request.headers["content-type"] == (json ? "application/json" : "application/x-protobuf"))
            }
            let decoded = try await OTelPython.run(OTelPython.decodeScript, [folder], in: agent.directory)
            #expect(decoded.status == 0, "\(decoded.stderr)")
            let arrived = try JSONDecoder().decode([Span].self, from: Data(decoded.stdout.utf8))
            #expect(arrived.count == spans.count, "no span lost or duplicated: \(arrived.count) of \(spans.count)")
            #expect(Set(arrived) == Set(spans))
            if mode.hasPrefix("protobuf") {
                #expect(delivered.count < results.count, "protobuf exports were merged: \(delivered.count) requests")
            } else {
                #expect(delivered.count == results.count, "JSON exports go one per request")
            }
            let status = try await agent.status()["traces"] as? [String: Any]
            #expect(status?["deliveredExports"] as? Int == results.count && status?["queued"] as? Int == 0)
            #expect(!agent.log().contains("app-own-moda-key"), "the application's own key is never logged")
        }
    }

    static func post(
        _ host: String,
        path: String = "/v1/traces",
        body: [UInt8],
        headers: [String],
        directory: TemporaryDirectory
    ) async throws -> (status: Int, contentType: String, body: [UInt8], headers: String) {
        let id = UUID().uuidString.prefix(8)
        let input = directory.file("in-\(id)")
        let output = directory.file("out-\(id)")
        let dump = directory.file("headers-\(id)")
        try Data(body).write(to: URL(fileURLWithPath: input))
        let result = try await CommandRunner.run(
            "/usr/bin/curl",
            ["-s", "-o", output, "-D", dump, "-w", "%{http_code}", "--max-time", "20", "--data-binary", "@\(input)"]
                + headers.flatMap { ["-H", $0] } + ["http://\(host)\(path)"]
        )
        let answer = (try? Data(contentsOf: URL(fileURLWithPath: output))).map { [UInt8]($0) } ?? []
        let headerText = (try? String(contentsOfFile: dump, encoding: .utf8)) ?? ""
        let contentType =
            headerText.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-type:") }
            .map { $0.dropFirst("content-type:".count).trimmingCharacters(in: .whitespaces) } ?? ""
        return (Int(result.stdout) ?? 0, contentType, answer, headerText.lowercased())
    }

    /// An `ExportTraceServiceRequest` holding one span per name.
    static func request(_ names: [String]) -> [UInt8] {
        Wire.request(names.enumerated().map { Wire.span($1, id: UInt8(truncatingIfNeeded: $0)) })
    }

    @Test("hostile and wrong requests get a clear 4xx in OTLP's shape and affect no other client")
    func hostile() async throws {
        try await Self.withAgent { agent, upstream, host in
            upstream.up()
            let dir = agent.directory
            let protobuf = "Content-Type: application/x-protobuf"
            // A length prefix far past the end, and a nested one past its message's end.
            for body: [UInt8] in [[0x0A, 0xFF, 0xFF, 0xFF, 0x0F, 0x01], [0x0A, 0x04, 0x12, 0x7F, 0x01, 0x02]] {
                async let good = Self.post(host, body: Self.request(["fine"]), headers: [protobuf], directory: dir)
                let bad = try await Self.post(host, body: body, headers: [protobuf], directory: dir)
                #expect(bad.status == 400 && bad.contentType == "application/x-protobuf")
                // google.rpc.Status: code 3 (INVALID_ARGUMENT), then the message.
                #expect(bad.body.starts(with: [0x08, 0x03, 0x12]))
                #expect(String(decoding: bad.body, as: UTF8.self).contains("malformed protobuf"))
                #expect(try await good.status == 200)
            }
            let badJSON = try await Self.post(
                host,
                body: Array(#"{"resourceSpans":["#.utf8),
                headers: ["Content-Type: application/json"],
                directory: dir
            )
            #expect(badJSON.status == 400 && badJSON.contentType == "application/json")
            let status = try JSONSerialization.jsonObject(with: Data(badJSON.body)) as? [String: Any]
            #expect(status?["code"] as? Int == 3 && (status?["message"] as? String ?? "").contains("not OTLP JSON"))
            let text = try await Self.post(
                host,
                body: Array("x".utf8),
                headers: ["Content-Type: text/plain"],
                directory: dir
            )
            #expect(text.status == 415)
            let badGzip = try await Self.post(
                host,
                body: Array("not gzip".utf8),
                headers: [protobuf, "Content-Encoding: gzip"],
                directory: dir
            )
            #expect(badGzip.status == 400 && badGzip.contentType == "application/x-protobuf")
            let get = try await CommandRunner.run(
                "/usr/bin/curl",
                ["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://\(host)/v1/traces"]
            )
            #expect(get.stdout == "405")

            // Metrics and logs: 200, empty, discarded, logged once per signal.
            for _ in 0..<3 {
                let metrics = try await Self.post(
                    host,
                    path: "/v1/metrics",
                    body: [],
                    headers: [protobuf],
                    directory: dir
                )
                #expect(metrics.status == 200 && metrics.body.isEmpty)
            }
            let logs = try await Self.post(
                host,
                path: "/v1/logs",
                body: Array("{}".utf8),
                headers: ["Content-Type: application/json"],
                directory: dir
            )
            #expect(logs.status == 200 && logs.body == Array("{}".utf8))
            #expect(agent.log().components(separatedBy: "OTLP metrics received").count == 2, "one log line")
            #expect(agent.log().components(separatedBy: "OTLP logs received").count == 2)

            #expect(await waitFor(timeout: .seconds(10)) { upstream.mock.deliveredTraces.count >= 1 })
            #expect(await waitFor(timeout: .seconds(10)) { Self.queuedExports(agent) == 0 })
            let relayed = upstream.mock.deliveredTraces.reduce(0) { $0 + $1.body.count }
            #expect(relayed == 2 * Self.request(["fine"]).count, "only the two good exports were queued and relayed")
            #expect(agent.isRunning)
            #expect(
                try UnixSocketClient.exchange(path: agent.socketPath, lines(1...1)) == [#"{"ok":true,"accepted":1}"#]
            )
        }
    }

    @Test("metrics: the traces queue beside the events', delivery by queue, discarded OTLP signals")
    func metrics() async throws {
        try await Self.withAgent(
            ["http": ["listen": "127.0.0.1:0"], "monitoring": ["listen": "127.0.0.1:0"]]
        ) { agent, upstream, host in
            let monitoring = try #require(await MonitoringTests.monitoringAddress(agent))
            let protobuf = "Content-Type: application/x-protobuf"
            _ = try await Self.post(host, body: Self.request(["m"]), headers: [protobuf], directory: agent.directory)
            #expect(await waitFor(timeout: .seconds(10)) { upstream.traceRequests.count >= 2 })
            var text = try await MonitoringTests.get("http://\(monitoring)/metrics").body
            #expect(text.contains(#"moda_agent_queue_events{queue="traces"} 1"#), "\(text)")
            #expect(text.contains(#"moda_agent_delivery_requests_total{queue="traces",code="503"}"#))
            // The state gauge by queue: trace delivery's own, beside the events'.
            #expect(text.contains(#"moda_agent_delivery_state{queue="traces",state="retrying"} 1"#), "\(text)")
            #expect(text.contains(#"moda_agent_delivery_state{queue="events",state="retrying"} 0"#))
            upstream.up()
            #expect(await waitFor(timeout: .seconds(10)) { Self.queuedExports(agent) == 0 })
            for _ in 0..<3 {
                _ = try await Self.post(
                    host,
                    path: "/v1/metrics",
                    body: [],
                    headers: [protobuf],
                    directory: agent.directory
                )
            }
            text = try await MonitoringTests.get("http://\(monitoring)/metrics").body
            #expect(text.contains(#"moda_agent_otlp_discarded_total{signal="metrics"} 3"#), "\(text)")
            #expect(text.contains(#"moda_agent_queue_events{queue="traces"} 0"#))
            #expect(text.contains(#"moda_agent_delivered_events_total{queue="traces"} 1"#))
            #expect(text.contains(#"moda_agent_delivery_last_success_timestamp_seconds{queue="traces"}"#))
            #expect(text.contains(#"moda_agent_delivery_state{queue="traces",state="ok"} 1"#), "\(text)")
        }
    }

    /// A TCP connection to `host` ("127.0.0.1:PORT") for writing a request by hand.
    static func connect(_ host: String) throws -> Int32 {
        let port = UInt16(host.split(separator: ":").last ?? "") ?? 0
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        try #require(connected == 0)
        return fd
    }

    static func sendAll(_ fd: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard sent > 0 else { return }
            offset += sent
        }
    }

    @Test("a request body holds its share of memory.maxBufferedBytes: another body waits for room, then both succeed")
    func bodiesHoldTheMemoryBudget() async throws {
        try await Self.withAgent(
            ["http": ["listen": "127.0.0.1:0", "maxBodyBytes": 4_000_000], "memory": ["maxBufferedBytes": 1 << 20]]
        ) { agent, upstream, host in
            upstream.up()
            func body(_ size: Int) -> [UInt8] {
                let head = Array(#"{"resourceSpans":[],"pad":""#.utf8)
                return head + Array(repeating: UInt8(ascii: "x"), count: size - head.count - 2) + Array(#""}"#.utf8)
            }
            // A: 700 KB announced, 600 KB sent, the rest held back.
            let first = body(700_000)
            let fd = try Self.connect(host)
            defer { close(fd) }
            let head =
                "POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(first.count)\r\n\r\n"
            Self.sendAll(fd, Array(head.utf8) + first.prefix(600_000))
            #expect(
                await waitForAsync(timeout: .seconds(10)) {
                    let memory = (try? await agent.status())?["memory"] as? [String: Any]
                    return (memory?["bufferedBytes"] as? Int ?? 0) >= 600_000
                },
                "the partial body is counted in the budget"
            )
            // B: 700 KB more does not fit beside it: B waits, paused, until A is answered.
            async let second = Self.post(
                host,
                body: body(700_000),
                headers: ["Content-Type: application/json"],
                directory: agent.directory
            )
            #expect(
                await waitForAsync(timeout: .seconds(10)) {
                    let memory = (try? await agent.status())?["memory"] as? [String: Any]
                    return (memory?["readPauses"] as? Int ?? 0) >= 1
                },
                "the second body waits for room"
            )
            #expect(Self.queuedExports(agent) == 0, "nothing is committed while both wait")
            Self.sendAll(fd, Array(first.dropFirst(600_000)))
            var reply = [UInt8](repeating: 0, count: 512)
            let read = recv(fd, &reply, reply.count, 0)
            #expect(String(decoding: reply.prefix(max(0, read)), as: UTF8.self).hasPrefix("HTTP/1.1 200"))
            #expect(try await second.status == 200)
            #expect(await waitFor(timeout: .seconds(10)) { upstream.mock.deliveredTraces.count == 2 })
            var held = -1
            #expect(
                await waitForAsync(timeout: .seconds(10)) {
                    held = ((try? await agent.status())?["memory"] as? [String: Any])?["bufferedBytes"] as? Int ?? -1
                    return held == 0
                },
                "every body's share returned: \(held) bytes still held"
            )
            // Larger than the whole budget: refused, not waited for.
            let huge = try await Self.post(
                host,
                body: body(1_200_000),
                headers: ["Content-Type: application/json"],
                directory: agent.directory
            )
            #expect(
                huge.status == 413 && String(decoding: huge.body, as: UTF8.self).contains("memory.maxBufferedBytes")
            )
        }
    }

    @Test("a full queue refuses an export with 503, Retry-After: 1 and UNAVAILABLE; events and exports share it")
    func queueFull() async throws {
        try await Self.withAgent(["http": ["listen": "127.0.0.1:0"], "queue": ["maxBytes": 300]]) { agent, _, host in
            let export = Self.request([String(repeating: "s", count: 100)])
            let protobuf = "Content-Type: application/x-protobuf"
            let first = try await Self.post(host, body: export, headers: [protobuf], directory: agent.directory)
            #expect(first.status == 200)
            let full = try await Self.post(host, body: export + export, headers: [protobuf], directory: agent.directory)
            #expect(full.status == 503 && full.body.starts(with: [0x08, 14]), "google.rpc.Status UNAVAILABLE")
            #expect(String(decoding: full.body, as: UTF8.self).contains("queue full"))
            #expect(full.headers.contains("retry-after: 1"), "\(full.headers)")
            #expect(Self.queuedExports(agent) == 1, "the refused export was not stored")
        }
    }

    @Test("an acknowledged export survives kill -9 and is delivered after the restart, even with the receivers off")
    func survivesCrash() async throws {
        try await Self.withAgent { agent, upstream, host in
            let export = Self.request(["kept-1", "kept-2"])
            let answer = try await Self.post(
                host,
                body: export,
                headers: ["Content-Type: application/x-protobuf"],
                directory: agent.directory
            )
            #expect(answer.status == 200)
            await agent.crash()
            upstream.up()
            // Restarted without http.listen: exports already queued are still delivered.
            var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: agent.configPath)))
                as? [String: Any] ?? [:]
            config["http"] = ["listen": NSNull()]
            try AgentProcess.writeConfig(config, to: agent.configPath)
            try await agent.start()
            #expect(await waitFor(timeout: .seconds(15)) { upstream.mock.deliveredTraces.count == 1 }, "\(agent.log())")
            #expect(upstream.mock.deliveredTraces.first?.body == export)
            #expect(await waitFor(timeout: .seconds(10)) { Self.queuedExports(agent) == 0 })
        }
    }

    @Test("http.token guards /v1/traces too")
    func token() async throws {
        try await Self.withAgent(["http": ["listen": "127.0.0.1:0", "token": "tok"]]) { agent, _, host in
            let body = Self.request(["a"])
            let none = try await Self.post(
                host,
                body: body,
                headers: ["Content-Type: application/x-protobuf"],
                directory: agent.directory
            )
            #expect(none.status == 401)
            let right = try await Self.post(
                host,
                body: body,
                headers: ["Content-Type: application/x-protobuf", "Authorization: Bearer tok"],
                directory: agent.directory
            )
            #expect(right.status == 200)
        }
    }

    @Test("a refused export is dead-lettered (kind traces) never split, shown, replayed and purged with modactl")
    func deadLetters() async throws {
        try await Self.withAgent { agent, upstream, host in
            upstream.mock.respond { request in
                guard request.path.hasPrefix("/v1/traces") else { return .success }
                return .status(400, message: "span timestamps out of range", retryable: false)
            }
            let body = Self.request(["refused-1", "refused-2"])
            let answer = try await Self.post(
                host,
                body: body,
                headers: ["Content-Type: application/x-protobuf"],
                directory: agent.directory
            )
            #expect(answer.status == 200)
            var letters: [[String: Any]] = []
            #expect(
                await waitForAsync(timeout: .seconds(15)) {
                    let list = try? await agent.modactl("dead-letters", "list", "--json")
                    letters =
                        (try? JSONSerialization.jsonObject(with: Data((list?.stdout ?? "").utf8))) as? [[String: Any]]
                        ?? []
                    return letters.count == 1
                }
            )
            let letter = try #require(letters.first)
            #expect(letter["kind"] as? String == "traces" && letter["status"] as? Int == 400)
            #expect(letter["error"] as? String == "span timestamps out of range")
            #expect((letter["preview"] as? String ?? "").contains("2 spans"))
            let id = try #require(letter["id"] as? Int)
            let show = try await agent.modactl("dead-letters", "show", String(id))
            let detail = try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any]
            #expect(detail?["contentType"] as? String == "application/x-protobuf")
            #expect((detail?["exportBase64"] as? String).flatMap { Data(base64Encoded: $0) } == Data(body))
            let status = try await agent.status()
            #expect((status["traces"] as? [String: Any])?["deadLetters"] as? Int == 1)
            #expect((status["deadLetters"] as? [String: Any])?["events"] as? Int == 0, "events' dead letters apart")
            let text = try await agent.modactl("status")
            #expect(text.stdout.contains("Traces:") && text.stdout.contains("1 trace export"), "\(text.stdout)")

            upstream.mock.respond(.alwaysSuccess)
            let replay = try await agent.modactl("dead-letters", "replay", "--all")
            #expect(replay.status == 0 && replay.stdout.contains("1 trace export"), "\(replay.stdout)")
            #expect(await waitFor(timeout: .seconds(15)) { upstream.mock.deliveredTraces.count == 1 })
            #expect(upstream.mock.deliveredTraces.first?.body == body, "relayed byte for byte")

            upstream.mock.respond { request in
                request.path.hasPrefix("/v1/traces") ? .status(422, message: "no", retryable: false) : .success
            }
            _ = try await Self.post(
                host,
                body: body,
                headers: ["Content-Type: application/x-protobuf"],
                directory: agent.directory
            )
            #expect(
                await waitForAsync(timeout: .seconds(15)) {
                    ((try? await agent.status())?["traces"] as? [String: Any])?["deadLetters"] as? Int == 1
                }
            )
            let purge = try await agent.modactl("dead-letters", "purge", "--all")
            #expect(purge.status == 0 && purge.stdout.contains("purged 1"))
        }
    }
}
