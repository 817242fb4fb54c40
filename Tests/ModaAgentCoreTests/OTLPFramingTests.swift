import FoundationEssentials
import Testing

@testable import ModaAgentCore

/// Protobuf wire format by hand: enough to build trace exports and broken ones.
enum Wire {
    static func varint(_ value: UInt64) -> [UInt8] {
        var value = value
        var out: [UInt8] = []
        while value >= 0x80 {
            out.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        out.append(UInt8(value))
        return out
    }

    static func field(_ number: UInt64, _ bytes: [UInt8]) -> [UInt8] {
        varint(number << 3 | 2) + varint(UInt64(bytes.count)) + bytes
    }

    static func field(_ number: UInt64, varint value: UInt64) -> [UInt8] {
        varint(number << 3) + varint(value)
    }

    static func span(_ name: String, id: UInt8) -> [UInt8] {
        field(1, Array(repeating: 7, count: 16)) + field(2, Array(repeating: id, count: 8)) + field(5, Array(name.utf8))
            + field(6, varint: 1) + [0x39] + Array(repeating: 1, count: 8)  // 7: fixed64 start time
    }

    /// An `ExportTraceServiceRequest` with one resource and one scope holding these spans.
    static func request(_ spans: [[UInt8]]) -> [UInt8] {
        let resource = field(1, field(1, field(1, Array("service.name".utf8))))
        let scope = field(1, field(1, Array("tests".utf8)))
        let scopeSpans = field(2, scope + spans.flatMap { field(2, $0) })
        return field(1, resource + scopeSpans)
    }
}

@Suite("OTLP: protobuf framing, encodings, responses")
struct OTLPFramingTests {
    func check(_ bytes: [UInt8]) -> Result<Int, ProtobufFraming.Fault> {
        bytes.withUnsafeBytes { ProtobufFraming.checkTraceRequest($0) }
    }

    @Test("well-framed exports pass and their spans are counted; concatenated exports are one export")
    func wellFramed() {
        let one = Wire.request([Wire.span("a", id: 1), Wire.span("b", id: 2)])
        let two = Wire.request([Wire.span("c", id: 3)])
        #expect(check(one) == .success(2))
        #expect(check(one + two) == .success(3))
        #expect(check([]) == .success(0), "an empty request is a valid, empty export")
        // Unknown fields of every wire type are framing only.
        #expect(check(Wire.field(9, varint: 300) + [0x55, 1, 2, 3, 4] + one) == .success(2))
    }

    @Test(
        "malformed framing is refused with where and why",
        arguments: [
            ([0x0A, 0xFF, 0xFF, 0xFF, 0x0F], "runs past the end"),
            ([0x0A, 0x05, 0x12, 0x09, 0x01], "runs past the end"),
            ([0x0A], "cut off"),
            ([0x08] + Array(repeating: 0xFF, count: 11), "over"),
            ([0x0B], "wire type 3"),
            ([0x00, 0x01], "field number 0"),
            ([0x0D, 0x01, 0x02], "4-byte value"),
        ] as [([UInt8], String)]
    )
    func malformed(bytes: [UInt8], fragment: String) {
        guard case .failure(let fault) = check(bytes) else {
            Issue.record("\(bytes) passed")
            return
        }
        #expect(fault.message.contains(fragment), "\(fault.message)")
        #expect(fault.message.hasPrefix("malformed protobuf at byte"))
    }

    @Test("a span's own framing is checked, and the fault names its place")
    func nestedFault() {
        // Field 8 as LEN 127 with nothing after it.
        let broken = Wire.span("x", id: 1) + [0x42, 0x7F]
        let request = Wire.request([Wire.span("ok", id: 2), broken])
        guard case .failure(let fault) = check(request) else {
            Issue.record("passed")
            return
        }
        #expect(fault.message.contains("resourceSpans[0].scopeSpans[0].spans[1]"), "\(fault.message)")
    }

    @Test("the body check: protobuf framing, JSON syntax and shape")
    func bodyCheck() {
        func run(_ text: String, _ encoding: OTLPEncoding) -> String? {
            Array(text.utf8).withUnsafeBytes { OTLPBodyCheck.check($0, encoding: encoding) }
        }
        #expect(run(#"{"resourceSpans":[]}"#, .json) == nil)
        #expect(run(#"{"resourceSpans":[}"#, .json)?.contains("not OTLP JSON") == true)
        #expect(run(#"[1,2]"#, .json)?.contains("JSON object") == true)
        #expect([0xFF, 0x7B].withUnsafeBytes { OTLPBodyCheck.check($0, encoding: .json) }?.contains("UTF-8") == true)
        #expect(Wire.request([]).withUnsafeBytes { OTLPBodyCheck.check($0, encoding: .protobuf) } == nil)
    }

    @Test("content types: parameters and case ignored, anything else unknown")
    func encodings() {
        #expect(OTLPEncoding(contentType: "application/x-protobuf") == .protobuf)
        #expect(OTLPEncoding(contentType: "Application/JSON; charset=utf-8") == .json)
        #expect(OTLPEncoding(contentType: "application/protobuf") == .protobuf)
        #expect(OTLPEncoding(contentType: "text/plain") == nil)
        #expect(OTLPEncoding(contentType: "") == nil)
    }

    @Test("responses: empty on success, google.rpc.Status with a gRPC code on failure")
    func responses() {
        #expect(OTLPResponse.success(.protobuf).body == [])
        #expect(OTLPResponse.success(.json).body == Array("{}".utf8))
        let json = OTLPResponse.refused(.badRequest, "bad \"body\"", encoding: .json).body
        #expect(String(decoding: json, as: UTF8.self) == #"{"code":3,"message":"bad \"body\""}"#)
        let proto = OTLPResponse.refused(.serviceUnavailable, "full", encoding: .protobuf).body
        #expect(proto == [0x08, 14, 0x12, 4] + Array("full".utf8))
        #expect(TraceResponseClassifier.protobufStatusMessage(proto) == "full")
    }

    @Test("tracesEndpoint: by default the origin of endpoint + /v1/traces")
    func tracesEndpoint() throws {
        var config = AgentConfig()
        #expect(config.effectiveTracesEndpoint == "https://moda-ingest.modas.workers.dev/v1/traces")
        config.endpoint = "http://127.0.0.1:8080/api/v1/ingest?x=1"
        #expect(config.effectiveTracesEndpoint == "http://127.0.0.1:8080/v1/traces")
        config.tracesEndpoint = "https://collector.example/otlp/v1/traces"
        #expect(config.effectiveTracesEndpoint == "https://collector.example/otlp/v1/traces")
        let parsed = try ConfigLoader.parse(
            Data(#"{"tracesEndpoint":"http://h:1/v1/traces"}"#.utf8),
            path: "c.json"
        )
        #expect(parsed.tracesEndpoint == "http://h:1/v1/traces")
        #expect(throws: ConfigError.self) {
            try ConfigLoader.parse(Data(#"{"tracesEndpoint":"h:1/v1/traces"}"#.utf8), path: "c.json")
        }
    }
}

@Suite("OTLP: the trace delivery classifier")
struct TraceResponseClassifierTests {
    static func response(_ status: Int, _ body: String = "", retryAfter: String? = nil) -> UploadResult {
        .response(UploadResponse(status: status, retryAfter: retryAfter, body: Array(body.utf8)))
    }

    enum Expected: Equatable {
        case delivered, retry, split, deadLetter, unauthorized, misconfigured
    }

    static func kind(_ decision: DeliveryDecision) -> Expected {
        switch decision {
        case .delivered: .delivered
        case .retry: .retry
        case .split: .split
        case .deadLetter: .deadLetter
        case .pause(let reason, _): reason == .unauthorized ? .unauthorized : .misconfigured
        }
    }

    @Test(
        "each outcome, per the OTLP/HTTP specification",
        arguments: [
            (response(200), 1, Expected.delivered),
            (response(202, "{}"), 3, .delivered),
            (response(200, "not json at all"), 1, .delivered),
            (.transportFailure("timeout after 2 s (delivery.timeoutSeconds)"), 1, .retry),
            (.transportFailure(""), 4, .retry),
            (response(429), 1, .retry),
            (response(502), 1, .retry),
            (response(503), 2, .retry),
            (response(504), 1, .retry),
            (response(408), 1, .retry),
            (response(401), 1, .unauthorized),
            (response(403), 5, .unauthorized),
            (response(404), 1, .misconfigured),
            (response(301), 1, .misconfigured),
            (response(400), 1, .deadLetter),
            (response(400), 2, .split),
            (response(413), 1, .deadLetter),
            (response(413), 7, .split),
            (response(422), 1, .deadLetter),
            (response(500), 1, .deadLetter),
            (response(501), 3, .split),
            (response(100), 1, .retry),
        ] as [(UploadResult, Int, Expected)]
    )
    func table(result: UploadResult, count: Int, expected: Expected) {
        #expect(Self.kind(TraceResponseClassifier.classify(result, exportCount: count).0) == expected)
    }

    @Test("Retry-After is honoured; messages come from OTLP Status, Moda's JSON or the body")
    func details() {
        if case .retry(let after, _) = TraceResponseClassifier.classify(
            Self.response(503, retryAfter: "7"),
            exportCount: 1
        ).0 {
            #expect(after == 7)
        } else {
            Issue.record("not a retry")
        }
        let moda = TraceResponseClassifier.classify(Self.response(400, #"{"message":"span too old"}"#), exportCount: 1)
            .0
        #expect(moda == .deadLetter(fault: DeliveryFault(status: 400, message: "span too old")))
        let status = OTLPResponse.refused(.badRequest, "bad span id", encoding: .protobuf).body
        let proto = TraceResponseClassifier.classify(
            .response(UploadResponse(status: 400, body: status)),
            exportCount: 1
        ).0
        #expect(proto == .deadLetter(fault: DeliveryFault(status: 400, message: "bad span id")))
    }

    @Test("partial_success with rejected spans is reported, in both encodings")
    func partialSuccess() {
        let json = TraceResponseClassifier.partialSuccess(
            Array(#"{"partialSuccess":{"rejectedSpans":"3","errorMessage":"too old"}}"#.utf8)
        )
        #expect(json == .init(rejectedSpans: 3, message: "too old"))
        let proto = Wire.field(1, Wire.field(1, varint: 2) + Wire.field(2, Array("dup".utf8)))
        #expect(TraceResponseClassifier.partialSuccess(proto) == .init(rejectedSpans: 2, message: "dup"))
        #expect(TraceResponseClassifier.partialSuccess(Array("{}".utf8)) == nil)
        #expect(TraceResponseClassifier.partialSuccess([]) == nil)
        #expect(TraceResponseClassifier.partialSuccess(Wire.field(1, [])) == nil)
    }
}
