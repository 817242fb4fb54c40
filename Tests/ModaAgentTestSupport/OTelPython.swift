import Foundation

/// A Python virtualenv with the OpenTelemetry SDK and its OTLP/HTTP exporter (PyPI), made once
/// under `.build/otel-venv` and kept: tests export real spans with it through the agent, and
/// decode what the mock upstream received with the same package's protobuf classes.
public enum OTelPython {
    public static let packages = ["opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-http"]

    /// Where the virtualenv lives: the package's `.build`, beside the test products.
    public static var folder: String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.appendingPathComponent(".build/otel-venv").path
    }

    public struct Unavailable: Error, CustomStringConvertible {
        public var description: String
    }

    private static let made = MadeOnce()

    /// The virtualenv's python, made first if needed (python3 -m venv, pip install).
    public static func python() async throws -> String {
        try await made.python()
    }

    /// Runs `script` (Python source) with the virtualenv's python.
    public static func run(
        _ script: String,
        _ arguments: [String],
        in directory: TemporaryDirectory
    ) async throws
        -> CommandResult
    {
        let python = try await python()
        let path = directory.file("script-\(UUID().uuidString.prefix(8)).py")
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        return try await CommandRunner.run(python, [path] + arguments, timeout: .seconds(120))
    }

    private actor MadeOnce {
        /// One preparation for every caller: an actor is reentrant at each `await`, so without it two suites
        /// asking at once both built the virtualenv in the same folder, and one's ensurepip failed.
        private var preparing: Task<String, any Error>?

        func python() async throws -> String {
            if let preparing { return try await preparing.value }
            let task = Task { try await Self.prepare() }
            preparing = task
            return try await task.value
        }

        private static func prepare() async throws -> String {
            let python = OTelPython.folder + "/bin/python"
            var usable = FileManager.default.isExecutableFile(atPath: python)
            if usable {
                let check = try await CommandRunner.run(
                    python,
                    ["-c", "import opentelemetry.exporter.otlp.proto.http"]
                )
                usable = check.status == 0
            }
            if !usable {
                try await make()
            }
            return python
        }

        /// Made beside and renamed into place, so an interrupted install never looks complete.
        private static func make() async throws {
            let building = OTelPython.folder + ".building-\(getpid())"
            try? FileManager.default.removeItem(atPath: building)
            try FileManager.default.createDirectory(
                atPath: URL(fileURLWithPath: building).deletingLastPathComponent().path,
                withIntermediateDirectories: true
            )
            // ensurepip takes over a minute on a machine busy with every other suite: the default 60 s killed it.
            let venv = try await CommandRunner.run(
                "/usr/bin/env",
                ["python3", "-m", "venv", building],
                timeout: .seconds(600)
            )
            guard venv.status == 0 else {
                throw Unavailable(
                    description: "python3 -m venv failed (install python3-venv): \(venv.stdout) \(venv.stderr)"
                )
            }
            let pip = try await CommandRunner.run(
                building + "/bin/python",
                ["-m", "pip", "install", "--quiet", "--disable-pip-version-check"] + OTelPython.packages,
                timeout: .seconds(600)
            )
            guard pip.status == 0 else {
                try? FileManager.default.removeItem(atPath: building)
                throw Unavailable(description: "pip install \(OTelPython.packages) failed: \(pip.stderr)")
            }
            try? FileManager.default.removeItem(atPath: OTelPython.folder)
            try FileManager.default.moveItem(atPath: building, toPath: OTelPython.folder)
        }
    }

    /// Exports spans with the SDK: `python export.py BASE MODE COUNT TAG`, MODE one of protobuf,
    /// protobuf-gzip (the SDK's OTLPSpanExporter), json, json-gzip (posted with urllib: the Python
    /// SDK has no JSON exporter). Prints `{"spans": [...], "exports": [true, ...]}`.
    public static let exportScript = #"""
        # Exports spans through the agent with the OpenTelemetry SDK; prints what it exported as JSON.
        import gzip, json, sys, urllib.request
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
        from opentelemetry.exporter.otlp.proto.http import Compression
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        base, mode, count, tag = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
        results = []

        def value(v):
            if isinstance(v, bool): return {"boolValue": v}
            if isinstance(v, int): return {"intValue": str(v)}
            if isinstance(v, float): return {"doubleValue": v}
            return {"stringValue": str(v)}

        class JSONExporter(SpanExporter):
            """OTLP/HTTP JSON, posted with urllib: the Python SDK has no JSON exporter."""
            def __init__(self, gzipped):
                self.gzipped = gzipped
            def export(self, spans):
                body = {"resourceSpans": [{
                    "resource": {"attributes": [{"key": k, "value": value(v)} for k, v in spans[0].resource.attributes.items()]},
                    "scopeSpans": [{"scope": {"name": "moda-agent-tests"}, "spans": [{
                        "traceId": format(s.context.trace_id, "032x"), "spanId": format(s.context.span_id, "016x"),
                        "name": s.name, "kind": 1,
                        "startTimeUnixNano": str(s.start_time), "endTimeUnixNano": str(s.end_time),
                        "attributes": [{"key": k, "value": value(v)} for k, v in s.attributes.items()],
                    } for s in spans]}],
                }]}
                data = json.dumps(body).encode()
                headers = {"Content-Type": "application/json", "Authorization": "Bearer app-own-moda-key"}
                if self.gzipped:
                    data = gzip.compress(data)
                    headers["Content-Encoding"] = "gzip"
                request = urllib.request.Request(base + "/v1/traces", data=data, headers=headers, method="POST")
                with urllib.request.urlopen(request, timeout=10) as answer:
                    ok = answer.status == 200 and json.load(answer) == {}
                return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE
            def shutdown(self):
                pass

        class Recording(SpanExporter):
            def __init__(self, inner):
                self.inner = inner
            def export(self, spans):
                result = self.inner.export(spans)
                results.append(result == SpanExportResult.SUCCESS)
                return result
            def shutdown(self):
                self.inner.shutdown()

        if mode.startswith("json"):
            inner = JSONExporter(mode.endswith("gzip"))
        else:
            inner = OTLPSpanExporter(
                endpoint=base + "/v1/traces",
                compression=Compression.Gzip if mode.endswith("gzip") else Compression.NoCompression,
                headers={"Authorization": "Bearer app-own-moda-key"},
            )
        provider = TracerProvider(resource=Resource.create({"service.name": "agent-test-" + tag}))
        provider.add_span_processor(BatchSpanProcessor(Recording(inner), max_export_batch_size=7, schedule_delay_millis=50))
        tracer = provider.get_tracer("moda-agent-tests")
        spans = []
        for i in range(count):
            with tracer.start_as_current_span(f"{tag}-span-{i}", attributes={"i": i, "tag": tag, "text": "héllo ✓ " * (i % 3)}) as span:
                ctx = span.get_span_context()
                spans.append({"traceId": format(ctx.trace_id, "032x"), "spanId": format(ctx.span_id, "016x"),
                              "name": f"{tag}-span-{i}", "attributes": {"i": str(i), "tag": tag, "text": "héllo ✓ " * (i % 3)}})
        provider.force_flush()
        provider.shutdown()
        print(json.dumps({"spans": spans, "exports": results}))
        """#

    /// Decodes the bodies the mock upstream received (`N.body` with `N.type` beside it) into
    /// their spans: `python decode.py FOLDER`.
    public static let decodeScript = #"""
        # Decodes the trace request bodies the mock upstream received (files N.body with N.type beside
        # them) into their spans, as JSON: what the test compares with what the SDK exported.
        import json, os, sys
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        def any_value(v):
            if "stringValue" in v: return v["stringValue"]
            if "intValue" in v: return str(v["intValue"])
            return json.dumps(v)

        def proto_value(v):
            kind = v.WhichOneof("value")
            return str(getattr(v, kind)) if kind == "int_value" else getattr(v, kind)

        folder = sys.argv[1]
        out = []
        for name in sorted(os.listdir(folder), key=lambda n: int(n.split(".")[0])):
            if not name.endswith(".body"): continue
            body = open(os.path.join(folder, name), "rb").read()
            kind = open(os.path.join(folder, name[:-5] + ".type")).read()
            if kind.startswith("application/json"):
                for rs in json.loads(body)["resourceSpans"]:
                    for ss in rs["scopeSpans"]:
                        for s in ss["spans"]:
                            out.append({"traceId": s["traceId"], "spanId": s["spanId"], "name": s["name"],
                                        "attributes": {a["key"]: any_value(a["value"]) for a in s.get("attributes", [])}})
            else:
                request = ExportTraceServiceRequest.FromString(body)
                for rs in request.resource_spans:
                    for ss in rs.scope_spans:
                        for s in ss.spans:
                            out.append({"traceId": s.trace_id.hex(), "spanId": s.span_id.hex(), "name": s.name,
                                        "attributes": {a.key: proto_value(a.value) for a in s.attributes}})
        print(json.dumps(out))
        """#
}
