import Foundation
import ModaAgentTestSupport
import Testing

@testable import ModaAgentCore

#if canImport(Glibc)
import Glibc
#endif

/// docs/monitoring.md: `/metrics` scraped by a real Prometheus, `/health` as a load balancer or an alert reads it.
@Suite("monitoring")
struct MonitoringTests {
    /// A loopback port free at the moment of asking, for a server that takes its port from the
    /// command line (Prometheus).
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// The monitoring address the daemon logged (it was asked for port 0: any free one).
    static func monitoringAddress(_ agent: AgentProcess) async -> String? {
        var found: String?
        _ = await waitFor(timeout: .seconds(10)) {
            for line in agent.log().split(separator: "\n") where line.contains("monitoring") {
                if let range = line.range(of: #"listen=127\.0\.0\.1:\d+"#, options: .regularExpression) {
                    found = String(line[range].dropFirst("listen=".count))
                }
            }
            return found != nil
        }
        return found
    }

    static func get(_ url: String) async throws -> (status: Int, body: String) {
        let result = try await CommandRunner.run(
            "/usr/bin/curl",
            ["-s", "-o", "/dev/stdout", "-w", "\n%{http_code}", "--max-time", "10", url]
        )
        let parts = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(parts.last ?? "") ?? 0, parts.dropLast().joined(separator: "\n"))
    }

    @Test(
        "health: each docs/monitoring.md rule",
        arguments: [
            (DeliveryStatus.State.idle, nil, 0, false, nil),
            (.ok, nil, 0, false, nil),
            (.unauthorized, nil, 0, false, "delivery unauthorized"),
            (.misconfigured, nil, 0, false, "delivery misconfigured"),
            (.retrying, 599.0, 0, false, nil),
            (.retrying, 601.0, 0, false, "delivery retrying with no success for 10 minutes"),
            (.ok, nil, 901, false, "queue over 90% of queue.maxBytes"),
            (.ok, nil, 900, false, nil),
            (.ok, nil, 0, true, "the last group commit failed"),
        ] as [(DeliveryStatus.State, Double?, Int, Bool, String?)]
    )
    func healthRules(state: DeliveryStatus.State, retrying: Double?, bytes: Int, commitFailed: Bool, reason: String?) {
        var delivery = DeliveryStatus()
        delivery.state = state
        let report = HealthReport.evaluate(
            .init(
                delivery: delivery,
                retryingForSeconds: retrying,
                queuedEvents: 3,
                queuedBytes: bytes,
                maxQueueBytes: 1000,
                whenFull: .reject,
                lastCommitFailed: commitFailed
            )
        )
        #expect(report.healthy == (reason == nil))
        if let reason { #expect(report.reason?.hasPrefix(reason) == true, "\(report.reason ?? "none")") }
        #expect(report.json.hasPrefix(reason == nil ? #"{"status":"ok""# : #"{"status":"unhealthy","reason":"#))
    }

    @Test(
        "health: the OTLP relay's delivery counts too, named as such, after the events' own reason",
        arguments: [
            (DeliveryStatus.State.ok, DeliveryStatus.State.idle, nil, nil),
            (.ok, .unauthorized, nil, "trace delivery unauthorized"),
            (.ok, .misconfigured, nil, "trace delivery misconfigured: 404; check tracesEndpoint"),
            (.ok, .retrying, 599.0, nil),
            (.ok, .retrying, 601.0, "trace delivery retrying with no success for 10 minutes"),
            (.unauthorized, .unauthorized, nil, "delivery unauthorized"),
        ] as [(DeliveryStatus.State, DeliveryStatus.State, Double?, String?)]
    )
    func traceHealthRules(events: DeliveryStatus.State, traces: DeliveryStatus.State, retrying: Double?, reason: String?) {
        var delivery = DeliveryStatus()
        delivery.state = events
        var traceDelivery = DeliveryStatus()
        traceDelivery.state = traces
        if traces == .misconfigured { traceDelivery.lastError = .init(status: 404, message: "404", at: 0) }
        let report = HealthReport.evaluate(
            .init(
                delivery: delivery,
                retryingForSeconds: nil,
                queuedEvents: 0,
                queuedBytes: 0,
                maxQueueBytes: 1000,
                whenFull: .reject,
                lastCommitFailed: false,
                traceDelivery: traceDelivery,
                traceRetryingForSeconds: retrying
            )
        )
        #expect(report.healthy == (reason == nil))
        if let reason { #expect(report.reason?.hasPrefix(reason) == true, "\(report.reason ?? "none")") }
    }

    @Test("health and ingest: queued trace exports count against queue.maxBytes beside the events")
    func traceBytesInHealth() async throws {
        // Nothing listens upstream: events and exports stay queued, delivery retrying (healthy for 10 minutes).
        let overrides: [String: Any] = [
            "http": ["listen": "127.0.0.1:0"], "monitoring": ["listen": "127.0.0.1:0"], "queue": ["maxBytes": 1000],
        ]
        try await AgentProcess.with(overrides: overrides) { agent in
            let host = try #require(await HTTPIngestTests.address(agent), "no receivers in:\n\(agent.log())")
            let monitoring = try #require(await Self.monitoringAddress(agent), "no monitoring in:\n\(agent.log())")
            // An export just under 90 % of the bound: healthy alone.
            var length = 860
            while HTTPTracesTests.request([String(repeating: "s", count: length)]).count > 860 { length -= 1 }
            let export = HTTPTracesTests.request([String(repeating: "s", count: length)])
            let posted = try await HTTPTracesTests.post(
                host, body: export, headers: ["Content-Type: application/x-protobuf"], directory: agent.directory
            )
            #expect(posted.status == 200)
            #expect(try await Self.get("http://\(monitoring)/health").status == 200)

            // One short event takes the queue past 90 % only with the export counted; the lines after it find
            // no room beside the export (events alone would fit a dozen).
            let line = #"{"conversation_id":"c","role":"user","message":"hello"}"#
            let first = try UnixSocketClient.exchange(path: agent.socketPath, line + "\n")
            #expect(first.first?.contains(#""ok":true"#) == true, "\(first)")
            let health = try await Self.get("http://\(monitoring)/health")
            #expect(health.status == 503 && health.body.contains("queue over 90% of queue.maxBytes"), "\(health)")
            let more = try UnixSocketClient.exchange(path: agent.socketPath, String(repeating: line + "\n", count: 2))
            #expect(more.last?.contains("queue full") == true, "\(more)")
        }
    }

    @Test("health: the OTLP relay's 401 makes the daemon unhealthy, named as trace delivery")
    func traceRelayUnauthorizedInHealth() async throws {
        let mock = try await MockModaServer.start()
        mock.respond { request in
            request.path.hasPrefix("/v1/traces")
                ? .status(401, message: "Invalid or missing API key", retryable: false) : .success
        }
        do {
            let overrides: [String: Any] = [
                "endpoint": mock.endpoint, "http": ["listen": "127.0.0.1:0"],
                "monitoring": ["listen": "127.0.0.1:0"],
            ]
            try await AgentProcess.with(overrides: overrides) { agent in
                let host = try #require(await HTTPIngestTests.address(agent), "no receivers in:\n\(agent.log())")
                let monitoring = try #require(await Self.monitoringAddress(agent), "no monitoring in:\n\(agent.log())")
                #expect(try await Self.get("http://\(monitoring)/health").status == 200)
                let posted = try await HTTPTracesTests.post(
                    host,
                    body: HTTPTracesTests.request(["span"]),
                    headers: ["Content-Type: application/x-protobuf"],
                    directory: agent.directory
                )
                #expect(posted.status == 200)
                let unauthorized = await waitForAsync(timeout: .seconds(20)) {
                    let health = try? await Self.get("http://\(monitoring)/health")
                    return health?.status == 503 && health?.body.contains("trace delivery unauthorized") == true
                }
                #expect(unauthorized, "the relay's 401 did not reach /health:\n\(agent.log())")
            }
            try await mock.shutdown()
        } catch {
            try? await mock.shutdown()
            throw error
        }
    }

    @Test(
        "a real Prometheus scrapes the daemon: events, a 503 retry and a dead letter show with the right values",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus"))
    )
    func prometheusScrapes() async throws {
        let poison: @Sendable (MockEvent) -> Bool = { $0.raw.contains("\"message\":\"message 4\"") }
        let behavior = MockBehavior.replying(
            [.status(503, message: "Service temporarily unavailable", retryable: true)],
            then: .rejectingEvents(where: poison)
        )
        try await withUpstream(behavior, overrides: ["monitoring": ["listen": "127.0.0.1:0"]]) { agent, mock in
            let target = try #require(await Self.monitoringAddress(agent), "no monitoring line in:\n\(agent.log())")
            _ = try UnixSocketClient.exchange(path: agent.socketPath, lines(1...6))
            #expect(await mock.waitForDeliveredCount(5, timeout: .seconds(20)))

            // promtool lints the exposition as Prometheus would read it.
            let metrics = try await Self.get("http://\(target)/metrics")
            #expect(metrics.status == 200)
            let exposition = agent.directory.file("metrics.txt")
            try metrics.body.write(toFile: exposition, atomically: true, encoding: .utf8)
            let lint = try await CommandRunner.run("/bin/sh", ["-c", "promtool check metrics < \(exposition)"])
            #expect(lint.status == 0, "promtool: \(lint.stdout)\(lint.stderr)")

            let port = Self.freePort()
            let config = agent.directory.file("prometheus.yml")
            try """
            global:
              scrape_interval: 1s
            scrape_configs:
              - job_name: moda-agent
                static_configs:
                  - targets: ["\(target)"]
            """.write(toFile: config, atomically: true, encoding: .utf8)
            let prometheus = try ChildProcess(
                executable: "/usr/bin/prometheus",
                arguments: [
                    "--config.file=\(config)", "--storage.tsdb.path=\(agent.directory.file("tsdb"))",
                    "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn",
                ],
                environment: ChildProcess.cleanEnvironment(),
                stdoutPath: agent.directory.file("prometheus.log"),
                stderrPath: agent.directory.file("prometheus.log")
            )
            defer {
                prometheus.signal(SIGKILL)
                _ = prometheus.waitUntilExit()
            }
            /// One series' value through Prometheus's query API.
            func query(_ expression: String) async -> Double? {
                let escaped = expression.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? expression
                guard let answer = try? await Self.get("http://127.0.0.1:\(port)/api/v1/query?query=\(escaped)"),
                    let object = try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any],
                    let result = (object["data"] as? [String: Any])?["result"] as? [[String: Any]],
                    let value = result.first?["value"] as? [Any], let text = value.last as? String
                else { return nil }
                return Double(text)
            }
            let expected: [(String, Double)] = [
                ("moda_agent_received_lines_total{source=\"socket\"}", 6),
                ("moda_agent_accepted_events_total{source=\"socket\"}", 6),
                ("moda_agent_delivered_events_total{queue=\"events\"}", 5),
                ("moda_agent_dead_letters{queue=\"events\"}", 1),
                ("moda_agent_dead_lettered_total{queue=\"events\"}", 1),
                ("moda_agent_delivery_requests_total{queue=\"events\",code=\"503\"}", 1),
                ("moda_agent_queue_events{queue=\"events\"}", 0),
                ("moda_agent_delivery_state{queue=\"events\",state=\"ok\"}", 1),
                ("moda_agent_delivery_retries_total{queue=\"events\"}", 1),
                ("moda_agent_memory_buffered_bytes", 0),
                ("moda_agent_memory_max_buffered_bytes", 67_108_864),
                ("moda_agent_build_info{version=\"\(AgentVersion.current)\"}", 1),
            ]
            for (series, value) in expected {
                var seen: Double?
                let matched = await waitForAsync(timeout: .seconds(30), every: .milliseconds(500)) {
                    seen = await query(series)
                    return seen == value
                }
                #expect(matched, "\(series) = \(seen.map { "\($0)" } ?? "absent"), expected \(value)")
            }
            #expect((await query("process_resident_memory_bytes") ?? 0) > 1_000_000)
            // The adaptive limit: at least 1, at most delivery.maxInFlight.
            let concurrency = await query("moda_agent_delivery_concurrency{queue=\"events\"}") ?? 0
            #expect(concurrency >= 1 && concurrency <= 8, "concurrency \(concurrency)")
            #expect((await query("moda_agent_commit_duration_seconds_count") ?? 0) >= 1)
            // The (q) counters read the same as modactl.
            let status = try await agent.status()
            #expect((status["delivery"] as? [String: Any])?["deliveredEvents"] as? Int == 5)
            #expect((status["deadLetters"] as? [String: Any])?["events"] as? Int == 1)
        }
    }

    @Test("health turns 503 while delivery is unauthorized and 200 again after a reload with a good key")
    func healthFollowsUnauthorized() async throws {
        let behavior = MockBehavior { request in
            request.headers["authorization"] == "Bearer good-key"
                ? .success : .status(401, message: "Invalid or missing API key", retryable: false)
        }
        try await withUpstream(behavior, overrides: ["monitoring": ["listen": "127.0.0.1:0"]], startAgent: false) {
            agent,
            mock in
            try "bad-key\n".write(toFile: agent.directory.file("api-key"), atomically: true, encoding: .utf8)
            agent.apiKeyInEnvironment = false
            try await agent.start()
            let target = try #require(await Self.monitoringAddress(agent), "no monitoring line in:\n\(agent.log())")
            #expect(try await Self.get("http://\(target)/health").status == 200)
            _ = try UnixSocketClient.exchange(path: agent.socketPath, lines(1...3))
            var health = (status: 0, body: "")
            let unhealthy = await waitForAsync(timeout: .seconds(15)) {
                health = (try? await Self.get("http://\(target)/health")) ?? (0, "")
                return health.status == 503
            }
            #expect(unhealthy, "\(health)")
            #expect(health.body.contains(#""status":"unhealthy""#) && health.body.contains("unauthorized"), "\(health.body)")
            #expect(health.body.contains(#""queuedEvents":3"#), "\(health.body)")

            try "good-key\n".write(toFile: agent.directory.file("api-key"), atomically: true, encoding: .utf8)
            agent.signal(SIGHUP)
            #expect(await mock.waitForDeliveredCount(3, timeout: .seconds(15)))
            let healthy = await waitForAsync(timeout: .seconds(15)) {
                health = (try? await Self.get("http://\(target)/health")) ?? (0, "")
                return health.status == 200
            }
            #expect(healthy, "\(health)")
            #expect(health.body.hasPrefix(#"{"status":"ok""#))
            #expect(try await Self.get("http://\(target)/nope").status == 404)
            let post = try await CommandRunner.run(
                "/usr/bin/curl",
                ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "http://\(target)/metrics"]
            )
            #expect(post.stdout == "405")
        }
    }
}
