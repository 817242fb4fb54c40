import Foundation
import Testing

@testable import ModaAgentCore

/// OTLP trace exports: span and span event attribute strings redacted, resource attributes and keys kept, the
/// messages on the way re-encoded, and the bytes untouched when nothing is found.
@Suite("Redaction: OTLP trace exports")
struct OTLPRedactionTests {
    /// Protobuf encoding by hand: (field, bytes) as length-delimited fields.
    static func field(_ number: UInt64, _ bytes: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        OTLPProtobufRedaction.appendVarint(number << 3 | 2, to: &output)
        OTLPProtobufRedaction.appendVarint(UInt64(bytes.count), to: &output)
        return output + bytes
    }

    static func string(_ number: UInt64, _ text: String) -> [UInt8] { field(number, Array(text.utf8)) }

    static func keyValue(_ key: String, _ value: String) -> [UInt8] {
        string(1, key) + field(2, string(1, value))
    }

    static func request(spanText: String, eventText: String, resourceText: String) -> [UInt8] {
        let nested = keyValue("nested", "x") + field(2, field(5, field(1, string(1, spanText))))  // array_value
        let span =
            field(1, Array(repeating: 0xAB, count: 16)) + string(5, "chat " + spanText)
            + field(9, keyValue("gen_ai.prompt", "say " + spanText)) + field(9, keyValue("n", "plain"))
            + field(9, Array(nested)) + [0x40, 0x96, 0x01]  // kind, a varint field
            + field(11, string(2, "event") + field(3, keyValue("text", eventText)))
        let resource = field(1, keyValue("owner", resourceText))
        return field(1, resource + field(2, field(1, string(1, "scope")) + field(2, span)))
    }

    static func rules() throws -> Redactor {
        var settings = AgentConfig.Redaction()
        settings.detectors = [.secrets, .paymentCard, .email]
        return try Redactor(settings: settings)
    }

    static func contains(_ haystack: [UInt8], _ needle: String) -> Bool {
        let needle = Array(needle.utf8)
        guard haystack.count >= needle.count else { return false }
        return (0...(haystack.count - needle.count)).contains {
            haystack[$0..<($0 + needle.count)].elementsEqual(needle)
        }
    }

    @Test("protobuf: span and event attributes redacted, resource attributes and span names kept, framing valid")
    func protobuf() throws {
        let redactor = try Self.rules()
        let body = Self.request(
            spanText: "jane@example.com",
            eventText: "card 4111111111111111",
            resourceText: "ops@example.com"
        )
        let redacted = redactor.redact(traceExport: body, encoding: .protobuf)
        #expect(redacted != body)
        #expect(Self.contains(redacted, "say [REDACTED:email]"))
        #expect(Self.contains(redacted, "card [REDACTED:payment_card]"))
        #expect(!Self.contains(redacted, "say jane@example.com") && !Self.contains(redacted, "4111111111111111"))
        #expect(Self.contains(redacted, "ops@example.com"), "resource attributes are left alone")
        #expect(Self.contains(redacted, "chat jane@example.com"), "only attributes are scanned, not the span name")
        #expect(Self.contains(redacted, "gen_ai.prompt"))
        let nested = Array(redacted).withUnsafeBytes { ProtobufFraming.checkTraceRequest($0) }
        #expect(nested == .success(1))
        // The array value inside an attribute is scanned too.
        let nestedCount = Self.contains(redacted, "[REDACTED:email]") ? 2 : 0
        #expect(nestedCount == 2)
        #expect(redactor.counts.perDetector == ["email": 2, "payment_card": 1])
        #expect(redactor.counts.redactedEvents.load(ordering: .relaxed) == 1)
    }

    @Test("protobuf and JSON: nothing found, the same bytes")
    func unchanged() throws {
        let redactor = try Self.rules()
        let body = Self.request(spanText: "hello", eventText: "4111111111111112", resourceText: "ops@example.com")
        #expect(redactor.redact(traceExport: body, encoding: .protobuf) == body)
        let json = Array(
            #"{"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":{"stringValue":"ops@example.com"}}]},"scopeSpans":[{"spans":[{"name":"a@b.com","attributes":[{"key":"t","value":{"stringValue":"nothing here"}}]}]}]}]}"#
                .utf8
        )
        #expect(redactor.redact(traceExport: json, encoding: .json) == json)
    }

    @Test("JSON: span and event attribute strings redacted, in camelCase and snake_case, other bytes kept")
    func json() throws {
        let redactor = try Self.rules()
        let body = #"""
            {"resourceSpans": [{"resource": {"attributes": [{"key": "owner", "value": {"stringValue": "ops@example.com"}}]},
              "scopeSpans": [{"scope": {"name": "s"}, "spans": [{"name": "jane@example.com", "traceId": "ab",
                "attributes": [{"key": "prompt", "value": {"stringValue": "key sk-proj-abcdefghij0123456789ABCDEFGHIJ"}},
                               {"key": "list", "value": {"arrayValue": {"values": [{"stringValue": "x@y.org"}]}}},
                               {"key": "kv", "value": {"kvlistValue": {"values": [{"key": "a", "value": {"stringValue": "b@c.io"}}]}}}],
                "events": [{"name": "e", "attributes": [{"key": "t", "value": {"stringValue": "4111 1111 1111 1111"}}]}]}]}]},
             {"resource_spans_ignored": 1}],
             "resource_spans": [{"scope_spans": [{"spans": [{"attributes": [{"key": "s", "value": {"string_value": "z@z.com"}}]}]}]}]}
            """#
        let redacted = String(decoding: redactor.redact(traceExport: Array(body.utf8), encoding: .json), as: UTF8.self)
        let expected =
            body
            .replacingOccurrences(of: "key sk-proj-abcdefghij0123456789ABCDEFGHIJ", with: "key [REDACTED:secrets]")
            .replacingOccurrences(of: "\"x@y.org\"", with: "\"[REDACTED:email]\"")
            .replacingOccurrences(of: "\"b@c.io\"", with: "\"[REDACTED:email]\"")
            .replacingOccurrences(of: "\"4111 1111 1111 1111\"", with: "\"[REDACTED:payment_card]\"")
            .replacingOccurrences(of: "\"z@z.com\"", with: "\"[REDACTED:email]\"")
        #expect(redacted == expected)
    }
}
