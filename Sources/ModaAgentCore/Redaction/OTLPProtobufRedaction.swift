/// Redacts the string values of span attributes and span event attributes in an OTLP protobuf
/// `ExportTraceServiceRequest`, re-encoding only the messages on the way to a changed string (their lengths
/// change); every other byte is copied as it came. Resource and scope attributes, links and attribute keys
/// are left alone.
///
///     request ─1─ ResourceSpans ─2─ ScopeSpans ─2─ Span ─┬─ 9: KeyValue ─2─ AnyValue
///                                                       └─11: Event ─3─ KeyValue
///     AnyValue ─┬─ 1: string_value (scanned)
///               ├─ 5: ArrayValue ─1─ AnyValue
///               └─ 6: KeyValueList ─1─ KeyValue
enum OTLPProtobufRedaction {
    enum Level {
        case request, resourceSpans, scopeSpans, span, event, keyValue, anyValue, arrayValue, keyValueList
        case string

        func child(_ field: UInt64) -> Level? {
            switch (self, field) {
            case (.request, 1): .resourceSpans
            case (.resourceSpans, 2): .scopeSpans
            case (.scopeSpans, 2): .span
            case (.span, 9), (.event, 3), (.keyValueList, 1): .keyValue
            case (.span, 11): .event
            case (.keyValue, 2), (.arrayValue, 1): .anyValue
            case (.anyValue, 1): .string
            case (.anyValue, 5): .arrayValue
            case (.anyValue, 6): .keyValueList
            default: nil
            }
        }
    }

    /// Nested array and key-value-list values deeper than this are replaced whole (stack depth is bounded).
    static let maxDepth = 64

    static func redact(_ bytes: UnsafeRawBufferPointer, rules: RedactionRules, tally: inout RedactionTally) -> [UInt8]?
    {
        rewrite(bytes, 0..<bytes.count, .request, depth: 0, rules: rules, tally: &tally)
    }

    /// The message in `range` re-encoded with its redacted strings, or nil when nothing in it changed (or it
    /// does not parse: then it is no OTLP message a receiver could read either).
    private static func rewrite(
        _ bytes: UnsafeRawBufferPointer,
        _ range: Range<Int>,
        _ level: Level,
        depth: Int,
        rules: RedactionRules,
        tally: inout RedactionTally
    ) -> [UInt8]? {
        var output: [UInt8]? = nil
        var copied = range.lowerBound
        var position = range.lowerBound
        while position < range.upperBound {
            guard let tag = varint(bytes, &position, end: range.upperBound) else { return nil }
            switch tag & 7 {
            case 0:
                guard varint(bytes, &position, end: range.upperBound) != nil else { return nil }
            case 1, 5:
                position += tag & 7 == 1 ? 8 : 4
                guard position <= range.upperBound else { return nil }
            case 2:
                let tagEnd = position
                guard let length = varint(bytes, &position, end: range.upperBound),
                    length <= UInt64(range.upperBound - position)
                else { return nil }
                let inner = position..<(position + Int(length))
                position = inner.upperBound
                guard let child = level.child(tag >> 3) else { continue }
                let replaced: [UInt8]?
                if child == .string {
                    replaced = rules.redact(UnsafeRawBufferPointer(rebasing: bytes[inner]), tally: &tally)
                } else if depth >= maxDepth {
                    replaced = Array([0x0A, 0x1A] + "[REDACTED:nested_too_deep]".utf8)
                } else {
                    replaced = rewrite(bytes, inner, child, depth: depth + 1, rules: rules, tally: &tally)
                }
                guard let replaced else { continue }
                var rebuilt = output ?? []
                rebuilt.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[copied..<tagEnd]))
                appendVarint(UInt64(replaced.count), to: &rebuilt)
                rebuilt.append(contentsOf: replaced)
                output = rebuilt
                copied = inner.upperBound
            default:
                return nil
            }
        }
        guard var output else { return nil }
        output.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[copied..<range.upperBound]))
        return output
    }

    /// A varint within `..<end` of the message being read.
    private static func varint(_ bytes: UnsafeRawBufferPointer, _ position: inout Int, end: Int) -> UInt64? {
        let message = UnsafeRawBufferPointer(rebasing: bytes[..<end])
        return Varint.read(message, &position)
    }

    static func appendVarint(_ value: UInt64, to output: inout [UInt8]) {
        Varint.append(value, to: &output)
    }
}
