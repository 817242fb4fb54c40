import Foundation
import ModaAgentCore
import ModaAgentTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A secret, a card number and an e-mail address sent on the socket, over HTTP and inside OTLP spans (protobuf
/// from the OpenTelemetry SDK's exporter, JSON built from the SDK's spans) arrive at the upstream redacted,
/// and no file under the queue's folder ever holds them, also across a kill -9 with a batch in flight.
@Suite("Redaction: end to end", .serialized)
struct RedactionEndToEndTests {
    static let secret = "sk-proj-Zq8Lw2Rt5Yu7Io9Pa1Sd3Fg5Hj7Kl9Xc"
    static let card = "4111 1111 1111 1111"
    static let email = "jane.roe@example.com"
    static var originals: [String] { [secret, card, "4111111111111111", email] }
    static var sentence: String { "key \(secret), card \(card), mail \(email)" }

    /// Exports one span with the three values in a span attribute and a span event attribute:
    /// `python otlp.py BASE MODE` (protobuf or json).
    static let exportScript = #"""
        import json, sys, urllib.request
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        base, mode, text = sys.argv[1], sys.argv[2], sys.argv[3]
        ok = []

        class JSONExporter(SpanExporter):
            def export(self, spans):
                def kv(attrs): return [{"key": k, "value": {"stringValue": str(v)}} for k, v in attrs.items()]
                body = {"resourceSpans": [{"resource": {"attributes": kv(spans[0].resource.attributes)},
                    "scopeSpans": [{"scope": {"name": "t"}, "spans": [{
                        "traceId": format(s.context.trace_id, "032x"), "spanId": format(s.context.span_id, "016x"),
                        "name": s.name, "kind": 1, "startTimeUnixNano": str(s.start_time), "endTimeUnixNano": str(s.end_time),
                        "attributes": kv(s.attributes),
                        "events": [{"name": e.name, "timeUnixNano": str(e.timestamp), "attributes": kv(e.attributes)} for e in s.events],
                    } for s in spans]}]}]}
                request = urllib.request.Request(base + "/v1/traces", data=json.dumps(body).encode(),
                    headers={"Content-Type": "application/json"}, method="POST")
                with urllib.request.urlopen(request, timeout=10) as answer:
                    return SpanExportResult.SUCCESS if answer.status == 200 else SpanExportResult.FAILURE
            def shutdown(self): pass

        class Recording(SpanExporter):
            def __init__(self, inner): self.inner = inner
            def export(self, spans):
                result = self.inner.export(spans)
                ok.append(result == SpanExportResult.SUCCESS)
                return result
            def shutdown(self): self.inner.shutdown()

        inner = JSONExporter() if mode == "json" else OTLPSpanExporter(endpoint=base + "/v1/traces")
        provider = TracerProvider(resource=Resource.create({"service.name": "redaction-test", "owner": "ops@example.com"}))
        provider.add_span_processor(SimpleSpanProcessor(Recording(inner)))
        tracer = provider.get_tracer("redaction-test")
        with tracer.start_as_current_span("chat " + mode, attributes={"gen_ai.prompt": text}) as span:
            span.add_event("tool", attributes={"output": text})
        provider.shutdown()
        print(json.dumps(ok))
        """#

    /// Every file under the queue's folder (database, WAL, shared memory, lock, counts) that holds any of
    /// the original values, with what it holds.
    static func filesHoldingOriginals(_ agent: AgentProcess) -> [String] {
        let folder = URL(fileURLWithPath: agent.queuePath).deletingLastPathComponent().path
        var found: [String] = []
        for name in (try? FileManager.default.subpathsOfDirectory(atPath: folder)) ?? [] {
            guard let data = FileManager.default.contents(atPath: "\(folder)/\(name)") else { continue }
            for original in originals where data.range(of: Data(original.utf8)) != nil {
                found.append("\(name) holds \(original)")
            }
        }
        return found
    }

    static func token(_ name: String, in text: String) -> String? {
        guard let range = text.range(of: #"\[\#(name):[0-9a-f]{16}\]"#, options: .regularExpression) else { return nil }
        return String(text[range])
    }

    @Test(
        "socket, HTTP and OTLP (protobuf and JSON) arrive redacted; the queue's files never hold the originals, across kill -9"
    )
    func endToEnd() async throws {
        let mock = try await MockModaServer.start()
        let up = Mutex(false)
        mock.respond { _ in
            up.withLock { $0 } ? .success : .status(503, message: "Service temporarily unavailable", retryable: true)
        }
        defer { Task { try? await mock.shutdown() } }
        let keys = TemporaryDirectory()
        let keyFile = keys.file("hash-key")
        _ = FileManager.default.createFile(atPath: keyFile, contents: Data("a-secret-hmac-key\n".utf8))
        chmod(keyFile, 0o600)
        let overrides: [String: Any] = [
            "endpoint": mock.endpoint,
            "http": ["listen": "127.0.0.1:0"],
            "monitoring": ["listen": "127.0.0.1:0"],
            "redaction": [
                "detectors": ["secrets", "payment_card", "email"], "action": "hash", "hashKeyFile": keyFile,
            ],
        ]
        try await AgentProcess.with(overrides: overrides) { agent in
            let host = try #require(await HTTPIngestTests.address(agent), "no receivers in:\n\(agent.log())")
            let line =
                #"{"conversation_id":"c-socket","role":"user","message":"\#(Self.sentence)","metadata":{"note":"\#(Self.email)"}}"#
            let client = try agent.client()
            try client.send(line + "\n")
            #expect(client.readLines(1).first?.contains(#""ok":true"#) == true)

            let body =
                #"{"events":[{"conversation_id":"c-http","role":"user","content":[{"type":"text","text":"\#(Self.sentence)"}]}]}"#
            let posted = try await HTTPIngestTests.curl(
                "http://\(host)/v1/ingest",
                ["-H", "Content-Type: application/json", "-d", body],
                directory: agent.directory
            )
            #expect(posted.status == 200, "\(posted.json)")

            for mode in ["protobuf", "json"] {
                let exported = try await OTelPython.run(
                    Self.exportScript,
                    ["http://\(host)", mode, Self.sentence],
                    in: agent.directory
                )
                #expect(exported.status == 0 && exported.stdout.contains("true"), "\(mode): \(exported.stderr)")
            }

            // A batch is in flight (the upstream answers 503) when the daemon is killed.
            #expect(await waitFor(timeout: .seconds(20)) { mock.requestCount >= 2 })
            #expect(Self.filesHoldingOriginals(agent).isEmpty, "\(Self.filesHoldingOriginals(agent))")
            await agent.crash()
            #expect(Self.filesHoldingOriginals(agent).isEmpty, "after kill -9: \(Self.filesHoldingOriginals(agent))")

            try await agent.start()
            let again = try agent.client()
            try again.send(#"{"conversation_id":"c-after","role":"user","message":"again \#(Self.email)"}"# + "\n")
            #expect(again.readLines(1).first?.contains(#""ok":true"#) == true)
            up.withLock { $0 = true }
            #expect(
                await waitFor(timeout: .seconds(30)) {
                    Set(mock.deliveredEvents.compactMap { Self.conversation($0) }).count == 3
                        && mock.deliveredTraces.count >= 2
                },
                "\(agent.log())"
            )

            let events = mock.deliveredEvents
            for event in events {
                for original in Self.originals { #expect(!event.contains(original), "delivered: \(event)") }
            }
            let socketEvent = try #require(events.first { $0.contains("c-socket") })
            let httpEvent = try #require(events.first { $0.contains("c-http") })
            let afterRestart = try #require(events.first { $0.contains("c-after") })
            for event in [socketEvent, httpEvent] {
                #expect(
                    Self.token("secrets", in: event) != nil && Self.token("payment_card", in: event) != nil,
                    "\(event)"
                )
            }
            let emailToken = try #require(Self.token("email", in: socketEvent))
            #expect(Self.token("email", in: httpEvent) == emailToken)
            #expect(Self.token("email", in: afterRestart) == emailToken, "the same token after a restart")

            let traces = mock.deliveredTraces
            let folder = agent.directory.file("traces")
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for (index, request) in traces.enumerated() {
                let bytes = Data(request.body)
                for original in Self.originals {
                    #expect(bytes.range(of: Data(original.utf8)) == nil, "trace \(index)")
                }
                #expect(bytes.range(of: Data("ops@example.com".utf8)) != nil, "resource attributes are kept")
                try bytes.write(to: URL(fileURLWithPath: "\(folder)/\(index).body"))
                try (request.headers["content-type"] ?? "").write(
                    toFile: "\(folder)/\(index).type",
                    atomically: true,
                    encoding: .utf8
                )
            }
            let decoded = try await OTelPython.run(OTelPython.decodeScript, [folder], in: agent.directory)
            #expect(decoded.status == 0, "\(decoded.stderr)")
            let spans = try JSONSerialization.jsonObject(with: Data(decoded.stdout.utf8)) as? [[String: Any]] ?? []
            #expect(spans.count == 2)
            for span in spans {
                let prompt = (span["attributes"] as? [String: Any])?["gen_ai.prompt"] as? String ?? ""
                #expect(prompt.hasPrefix("key [secrets:") && prompt.hasSuffix("mail \(emailToken)"), "\(prompt)")
            }
            #expect(Self.filesHoldingOriginals(agent).isEmpty, "\(Self.filesHoldingOriginals(agent))")

            // The counts since this start: one event, for modactl status (written within a second).
            var findings: [String: Any] = [:]
            let counted = await waitForAsync(timeout: .seconds(5), every: .milliseconds(100)) {
                let redaction = (try? await agent.status())?["redaction"] as? [String: Any]
                findings = redaction?["findings"] as? [String: Any] ?? [:]
                return findings["email"] as? Int == 1
            }
            #expect(counted, "\(findings)")
            let monitoring = try #require(await MonitoringTests.monitoringAddress(agent), "\(agent.log())")
            let metrics = try await MonitoringTests.get("http://\(monitoring)/metrics").body
            #expect(metrics.contains(#"moda_agent_redactions_total{detector="email"} 1"#), "\(metrics)")
            #expect(metrics.contains("moda_agent_redacted_events_total 1"), "\(metrics)")
            let text = try await agent.modactl("status")
            #expect(
                text.stdout.contains("Redaction: 1 event redacted (email 1); secrets, payment_card, email on"),
                "\(text.stdout)"
            )
        }
    }

    static func conversation(_ event: String) -> String? {
        for name in ["c-socket", "c-http", "c-after"] where event.contains("\"\(name)\"") { return name }
        return nil
    }

    @Test("modactl redact: lines as they would be stored on stdout, findings per detector on stderr")
    func modactlRedact() async throws {
        try await AgentProcess.with(
            overrides: ["redaction": ["detectors": ["secrets", "payment_card", "email"]]],
            start: false
        ) { agent in
            let input = [
                #"{"conversation_id":"c","role":"user","message":"\#(Self.sentence)"}"#,
                #"{"conversation_id":"c","role":"user","message":"nothing here"}"#,
            ].joined(separator: "\n")
            let result = try await agent.modactl("redact", stdin: input + "\n")
            #expect(result.status == 0, "\(result.stderr)")
            let lines = result.stdout.split(separator: "\n")
            #expect(lines.count == 2)
            #expect(lines.first?.contains("key [REDACTED:secrets], card [REDACTED:payment_card], mail [REDACTED:email]") == true)
            #expect(lines.last?.contains("nothing here") == true)
            #expect(result.stderr.contains("2 lines, 2 events: 1 redacted, 0 rejected"), "\(result.stderr)")
            #expect(result.stderr.contains("  email          1") && result.stderr.contains("  secrets        1"))
            let rejected = try await agent.modactl("redact", stdin: "not json\n")
            #expect(rejected.status == 1 && rejected.stderr.contains("stdin: line 1: malformed JSON"), "\(rejected.stderr)")
            #expect(!FileManager.default.fileExists(atPath: agent.queuePath), "modactl redact stores nothing")
        }
    }

    @Test("a hash key file others can read stops the daemon with exit 78, naming the file")
    func openKeyFile() async throws {
        let keys = TemporaryDirectory()
        let keyFile = keys.file("hash-key")
        _ = FileManager.default.createFile(atPath: keyFile, contents: Data("k".utf8))
        chmod(keyFile, 0o644)
        try await AgentProcess.with(
            overrides: ["redaction": ["detectors": ["email"], "action": "hash", "hashKeyFile": keyFile]],
            start: false
        ) { agent in
            try await agent.start(waitUntilReady: false)
            let status = await agent.waitForExit(timeout: .seconds(20))
            #expect(status == 78)
            #expect(agent.log().contains(keyFile) && agent.log().contains("chmod 600"), "\(agent.log())")
        }
    }
}
