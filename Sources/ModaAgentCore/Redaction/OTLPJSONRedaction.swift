/// Redacts the string values of span attributes and span event attributes in an OTLP JSON export (the
/// protobuf JSON mapping, lowerCamelCase or the proto's snake_case names), splicing in only the changed
/// strings: every other byte stays as it came.
enum OTLPJSONRedaction {
    static func redact(_ bytes: UnsafeRawBufferPointer, rules: RedactionRules, tally: inout RedactionTally) -> [UInt8]?
    {
        var walk = JSONStringRewriter(bytes: bytes, rules: rules)
        do {
            try value(&walk, .request, depth: 0)
        } catch {
            return nil
        }
        tally = walk.tally
        return walk.output()
    }

    /// Where a member leads, from an object of each level: (key, snake_case key, level of its value).
    private static func child(of level: OTLPProtobufRedaction.Level, key: [UInt8]) -> OTLPProtobufRedaction.Level? {
        let name = String(decoding: key, as: UTF8.self)
        switch (level, name) {
        case (.request, "resourceSpans"), (.request, "resource_spans"): return .resourceSpans
        case (.resourceSpans, "scopeSpans"), (.resourceSpans, "scope_spans"): return .scopeSpans
        case (.scopeSpans, "spans"): return .span
        case (.span, "attributes"), (.event, "attributes"), (.keyValueList, "values"): return .keyValue
        case (.span, "events"): return .event
        case (.keyValue, "value"), (.arrayValue, "values"): return .anyValue
        case (.anyValue, "stringValue"), (.anyValue, "string_value"): return .string
        case (.anyValue, "arrayValue"), (.anyValue, "array_value"): return .arrayValue
        case (.anyValue, "kvlistValue"), (.anyValue, "kvlist_value"): return .keyValueList
        default: return nil
        }
    }

    /// A value of `level`: an object of it, or an array of such objects (repeated fields).
    private static func value(
        _ walk: inout JSONStringRewriter,
        _ level: OTLPProtobufRedaction.Level,
        depth: Int
    ) throws(JSONSyntaxError) {
        walk.scanner.skipWhitespace()
        switch walk.scanner.current {
        case JSONByte.openBracket?:
            var more = try walk.scanner.beginArray(level: depth + 1)
            while more {
                try value(&walk, level, depth: depth + 1)
                more = try walk.scanner.nextElement()
            }
        case JSONByte.openBrace?:
            var more = try walk.scanner.beginObject(level: depth + 1)
            while more {
                let key = try walk.scanner.scanKey()
                let name =
                    key.flag
                    ? walk.scanner.decodedString(key)
                    : Array(UnsafeRawBufferPointer(rebasing: walk.scanner.bytes[key.stringContent]))
                if let next = child(of: level, key: name) {
                    if next == .string {
                        let token = try walk.scanner.scanValue(depth: depth + 1)
                        if token.kind == .string { walk.scan(token) }
                    } else {
                        try value(&walk, next, depth: depth + 1)
                    }
                } else {
                    try walk.scanner.skipValue(depth: depth + 1)
                }
                more = try walk.scanner.nextMember()
            }
        default:
            try walk.scanner.skipValue(depth: depth)
        }
    }
}
