/// Walks a stored event body (valid JSON, one object) and replaces the findings in its string values.
///
/// Every string value is scanned, at any depth, except the values that identify or classify where the API
/// defines them: at the event's top level, in content blocks and in transcript entries. Inside anything else
/// (metadata, tool inputs and results, unknown fields) every string is scanned whatever its key. Keys are
/// never changed.
enum EventRedaction {
    /// Keys whose string values are left alone where the API defines them (docs/redaction.md).
    static let exemptKeys: Set<[UInt8]> = Set(
        [
            "conversation_id", "conversationId", "id", "messageType", "role", "type", "tool_use_id", "tool_name",
            "name", "timestamp", "environment", "model", "provider", "trace_id", "prompt_id", "prompt_name",
            "prompt_version", "inReplyTo", "callType",
        ].map { Array($0.utf8) }
    )
    static let blockArrayKeys: Set<[UInt8]> = [Array("content".utf8), Array("content_blocks".utf8)]
    static let transcriptKey = Array("transcript".utf8)

    /// The body with its findings replaced, or nil when it has none.
    static func redact(_ body: UnsafeRawBufferPointer, rules: RedactionRules, tally: inout RedactionTally) -> [UInt8]? {
        var walk = JSONStringRewriter(bytes: body, rules: rules)
        do {
            try walk.value(.event, depth: 0)
        } catch {
            // Unreachable for a validated body; redact everything rather than store what was not walked.
            return nil
        }
        tally = walk.tally
        return walk.output()
    }

    enum Context {
        /// The event object's members.
        case event
        /// A content block's or transcript entry's members.
        case entry
        /// Array elements that are content blocks.
        case blocks
        /// Array elements that are transcript entries.
        case transcript
        /// Everything scanned.
        case free
    }
}

/// Scans a JSON document's string values with `rules`, collecting the rewritten ones, and splices them in.
struct JSONStringRewriter {
    var scanner: JSONScanner
    let rules: RedactionRules
    var tally = RedactionTally()
    /// Replaced string contents (between the quotes), in document order.
    private var edits: [(range: Range<Int>, content: [UInt8])] = []

    init(bytes: UnsafeRawBufferPointer, rules: RedactionRules) {
        self.scanner = JSONScanner(bytes: bytes)
        self.rules = rules
    }

    mutating func value(_ context: EventRedaction.Context, depth: Int) throws(JSONSyntaxError) {
        scanner.skipWhitespace()
        switch scanner.current {
        case JSONByte.openBrace?:
            try object(
                context == .blocks || context == .transcript ? .entry : (context == .event ? .event : .free),
                depth: depth
            )
        case JSONByte.openBracket?:
            try array(.free, depth: depth)
        default:
            let token = try scanner.scanValue(depth: depth)
            if token.kind == .string { scan(token) }
        }
    }

    private mutating func object(_ context: EventRedaction.Context, depth: Int) throws(JSONSyntaxError) {
        var more = try scanner.beginObject(level: depth + 1)
        while more {
            let key = try scanner.scanKey()
            if context == .free {
                try value(.free, depth: depth + 1)
            } else {
                let name = keyBytes(key)
                if scanner.current == JSONByte.quote, EventRedaction.exemptKeys.contains(name) {
                    _ = try scanner.scanValue(depth: depth + 1)
                } else if context == .event, scanner.current == JSONByte.openBracket,
                    EventRedaction.blockArrayKeys.contains(name)
                {
                    try array(.blocks, depth: depth + 1)
                } else if context == .event, scanner.current == JSONByte.openBracket,
                    name == EventRedaction.transcriptKey
                {
                    try array(.transcript, depth: depth + 1)
                } else {
                    try value(.free, depth: depth + 1)
                }
            }
            more = try scanner.nextMember()
        }
    }

    private mutating func array(_ elements: EventRedaction.Context, depth: Int) throws(JSONSyntaxError) {
        var more = try scanner.beginArray(level: depth + 1)
        while more {
            try value(elements, depth: depth + 1)
            more = try scanner.nextElement()
        }
    }

    private func keyBytes(_ key: JSONToken) -> [UInt8] {
        key.flag
            ? scanner.decodedString(key) : Array(UnsafeRawBufferPointer(rebasing: scanner.bytes[key.stringContent]))
    }

    /// Scans one string value (decoded first when it has escapes) and records its rewrite.
    mutating func scan(_ token: JSONToken) {
        let content = token.stringContent
        guard !content.isEmpty else { return }
        if token.flag {
            let decoded = scanner.decodedString(token)
            let redacted = decoded.withUnsafeBytes { rules.redact($0, tally: &tally) }
            if let redacted {
                edits.append((content, JSONStringEscaping.escapedContent(String(decoding: redacted, as: UTF8.self))))
            }
        } else if let redacted = rules.redact(UnsafeRawBufferPointer(rebasing: scanner.bytes[content]), tally: &tally) {
            edits.append((content, redacted))
        }
    }

    /// The document with every edit spliced in, or nil when there is none.
    func output() -> [UInt8]? {
        guard !edits.isEmpty else { return nil }
        let bytes = scanner.bytes
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count + edits.reduce(0) { $0 + $1.content.count - $1.range.count })
        var cursor = 0
        for edit in edits {
            result.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[cursor..<edit.range.lowerBound]))
            result.append(contentsOf: edit.content)
            cursor = edit.range.upperBound
        }
        result.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[cursor...]))
        return result
    }
}
