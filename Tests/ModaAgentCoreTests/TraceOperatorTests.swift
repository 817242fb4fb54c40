import Foundation
import ModaAgentTestSupport
import Testing

@testable import ModaAgentCore

/// Trace delivery gets the operator treatment events get: systemd's STATUS=, a SIGHUP that
/// re-sizes its batches, replayed dead letters delivered by the running daemon.
@Suite("trace delivery for the operator", .serialized)
struct TraceOperatorTests {
    static let protobuf = "Content-Type: application/x-protobuf"
    static let json = "Content-Type: application/json"

    /// The config file the agent runs with, changed section by section (for a SIGHUP or a restart).
    static func rewrite(_ agent: AgentProcess, _ change: (inout [String: Any]) -> Void) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: agent.configPath))
        var config = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        change(&config)
        try AgentProcess.writeConfig(config, to: agent.configPath)
    }

    @Test("STATUS= shows the trace exports' queue and delivery state beside the events'")
    func notifyStatus() async throws {
        let mock = try await MockModaServer.start()
        let upstream = HTTPTracesTests.Upstream(mock)
        let listener = try DatagramListener()
        let overrides: [String: Any] = ["endpoint": mock.endpoint, "http": ["listen": "127.0.0.1:0"]]
        try await AgentProcess.with(overrides: overrides, start: false) { agent in
            try await agent.start(extraEnvironment: ["NOTIFY_SOCKET": listener.path])
            let idle = "STATUS=queued 0 events, delivery idle; queued 0 trace exports, trace delivery idle"
            #expect(listener.receive(until: { $0 == idle }) != nil)
            let host = try #require(await HTTPIngestTests.address(agent))
            let answer = try await HTTPTracesTests.post(
                host,
                body: HTTPTracesTests.request(["s"]),
                headers: [Self.protobuf],
                directory: agent.directory
            )
            #expect(answer.status == 200)
            // The upstream answers 503: trace delivery retries, and systemd hears it.
            let retrying = "STATUS=queued 0 events, delivery idle; queued 1 trace export, trace delivery retrying"
            #expect(listener.receive(until: { $0 == retrying }) != nil)
            upstream.up()
            let ok = "STATUS=queued 0 events, delivery idle; queued 0 trace exports, trace delivery ok"
            #expect(listener.receive(until: { $0 == ok }) != nil)
        }
        try await mock.shutdown()
    }

    @Test("after a SIGHUP raising batch.maxBytes, protobuf exports merge up to the new limit and JSON still goes alone")
    func reloadResizesBatches() async throws {
        try await HTTPTracesTests.withAgent(
            [
                "http": ["listen": "127.0.0.1:0"],
                "batch": ["maxBytes": 2048, "maxEventBytes": 1024, "flushIntervalMs": 60_000],
            ]
        ) { agent, upstream, host in
            upstream.up()
            try Self.rewrite(agent) { config in
                config["batch"] = ["maxBytes": 1_000_000, "maxEventBytes": 1024, "flushIntervalMs": 60_000]
            }
            agent.signal(SIGHUP)
            #expect(await waitFor { agent.log().contains("configuration reloaded") })
            let names = (0..<3).map { "span-\($0)-" + String(repeating: "p", count: 800) }
            for name in ["json-1", "json-2"] {
                let body = Array(#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"\#(name)"}]}]}]}"#.utf8)
                let answer = try await HTTPTracesTests.post(
                    host,
                    body: body,
                    headers: [Self.json],
                    directory: agent.directory
                )
                #expect(answer.status == 200)
            }
            for name in names {
                let answer = try await HTTPTracesTests.post(
                    host,
                    body: HTTPTracesTests.request([name]),
                    headers: [Self.protobuf],
                    directory: agent.directory
                )
                #expect(answer.status == 200)
            }
            #expect(await waitFor { HTTPTracesTests.queuedExports(agent) == 5 || upstream.mock.deliveredTraces.count > 0 })
            _ = try await agent.modactl("flush")
            #expect(await waitFor(timeout: .seconds(15)) { HTTPTracesTests.queuedExports(agent) == 0 }, "\(agent.log())")
            let delivered = upstream.mock.deliveredTraces
            let jsons = delivered.filter { $0.headers["content-type"] == "application/json" }
            let protobufs = delivered.filter { $0.headers["content-type"] == "application/x-protobuf" }
            #expect(jsons.count == 2, "each JSON export alone: \(delivered.map { String(decoding: $0.body, as: UTF8.self) })")
            for request in jsons {
                #expect((try? JSONSerialization.jsonObject(with: Data(request.body))) != nil, "one JSON document a request")
            }
            // 2.7 KB of protobuf: two requests under the old 2048 bytes, one under the new limit.
            #expect(protobufs.count == 1, "\(protobufs.map(\.body.count))")
        }
    }

    @Test("a trace dead letter replayed while the daemon runs without receivers is delivered, no restart needed")
    func replayWithoutReceivers() async throws {
        try await HTTPTracesTests.withAgent { agent, upstream, host in
            upstream.mock.respond { request in
                guard request.path.hasPrefix("/v1/traces") else { return .success }
                return .status(400, message: "span timestamps out of range", retryable: false)
            }
            let answer = try await HTTPTracesTests.post(
                host,
                body: HTTPTracesTests.request(["refused"]),
                headers: [Self.protobuf],
                directory: agent.directory
            )
            #expect(answer.status == 200)
            #expect(
                await waitForAsync(timeout: .seconds(15)) {
                    ((try? await agent.status())?["traces"] as? [String: Any])?["deadLetters"] as? Int == 1
                }
            )
            // The receivers off, the queue of exports empty: only the dead letter is left.
            #expect(await agent.stop() == 0)
            try Self.rewrite(agent) { $0["http"] = ["listen": NSNull()] }
            upstream.mock.respond(.alwaysSuccess)
            try await agent.start()
            let replay = try await agent.modactl("dead-letters", "replay", "--all")
            #expect(replay.status == 0 && replay.stdout.contains("1 trace export"), "\(replay.stdout)")
            #expect(
                await waitFor(timeout: .seconds(15)) { upstream.mock.deliveredTraces.count == 1 },
                "\(agent.log())"
            )
            // The export leaves its queue in the writer's next turn after the 2xx.
            #expect(await waitFor(timeout: .seconds(15)) { HTTPTracesTests.queuedExports(agent) == 0 })
        }
    }
}
