/// A cursor over one line that checks RFC 8259 syntax as it moves. Every read is bounds-checked against
/// `bytes`; nested containers are skipped iteratively (see `ContainerStack`), so hostile input costs
/// neither heap nor stack. Expects UTF-8 already validated (`UTF8Validation`).
struct JSONScanner {
    /// The deepest nesting accepted, counting the top-level value as level 1 (as Foundation does).
    static let maxDepth = 512

    let bytes: UnsafeRawBufferPointer
    var position: Int

    init(bytes: UnsafeRawBufferPointer, position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    var isAtEnd: Bool { position >= bytes.count }

    /// The byte at the cursor, or nil at the end of the line.
    var current: UInt8? { position < bytes.count ? bytes[position] : nil }

    mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case JSONByte.space, JSONByte.tab, JSONByte.lineFeed, JSONByte.carriageReturn: position += 1
            default: return
            }
        }
    }

    // MARK: Containers, one step at a time (for walkers that look inside objects and arrays)

    /// Consumes the `{` at the cursor for an object at nesting `level`. Returns false when the object is
    /// empty (its `}` consumed too); otherwise the cursor is left at the first key.
    mutating func beginObject(level: Int) throws(JSONSyntaxError) -> Bool {
        try beginContainer(level: level, closer: JSONByte.closeBrace)
    }

    /// As `beginObject`, for `[`; the cursor is left at the first element.
    mutating func beginArray(level: Int) throws(JSONSyntaxError) -> Bool {
        try beginContainer(level: level, closer: JSONByte.closeBracket)
    }

    private mutating func beginContainer(level: Int, closer: UInt8) throws(JSONSyntaxError) -> Bool {
        guard level <= Self.maxDepth else { throw JSONSyntaxError(offset: position, kind: .tooDeep) }
        position += 1
        skipWhitespace()
        if current == closer {
            position += 1
            return false
        }
        return true
    }

    /// Reads a member's `"key"` and the `:` after it, leaving the cursor at the value.
    mutating func scanKey() throws(JSONSyntaxError) -> JSONToken {
        skipWhitespace()
        guard current == JSONByte.quote else { throw malformed("expected a string key in double quotes") }
        let key = try scanString()
        skipWhitespace()
        guard current == JSONByte.colon else { throw malformed("expected ':' after object key") }
        position += 1
        skipWhitespace()
        return key
    }

    /// After a member's value: true if another member follows (its `,` consumed), false at the closing `}`.
    mutating func nextMember() throws(JSONSyntaxError) -> Bool {
        try next(closer: JSONByte.closeBrace, "expected ',' or '}' after object member")
    }

    /// After an element: true if another element follows (its `,` consumed), false at the closing `]`.
    mutating func nextElement() throws(JSONSyntaxError) -> Bool {
        try next(closer: JSONByte.closeBracket, "expected ',' or ']' after array element")
    }

    private mutating func next(closer: UInt8, _ expectation: String) throws(JSONSyntaxError) -> Bool {
        skipWhitespace()
        switch current {
        case JSONByte.comma?:
            position += 1
            skipWhitespace()
            return true
        case closer?:
            position += 1
            return false
        default:
            throw malformed(expectation)
        }
    }

    // MARK: Whole values

    /// Scans (and for containers, skips) the value at the cursor. `depth` counts the containers around it.
    mutating func scanValue(depth: Int) throws(JSONSyntaxError) -> JSONToken {
        skipWhitespace()
        let start = position
        guard let byte = current else { throw malformed("expected a JSON value") }
        switch byte {
        case JSONByte.openBrace, JSONByte.openBracket:
            try skipContainer(depth: depth)
            return JSONToken(
                kind: byte == JSONByte.openBrace ? .object : .array,
                start: start,
                end: position,
                flag: false
            )
        default:
            return try scanScalar()
        }
    }

    mutating func skipValue(depth: Int) throws(JSONSyntaxError) {
        _ = try scanValue(depth: depth)
    }

    /// Fails unless only whitespace remains.
    mutating func expectEnd() throws(JSONSyntaxError) {
        skipWhitespace()
        guard isAtEnd else { throw malformed("unexpected data after the JSON value") }
    }

    /// Syntax only: whether `bytes` (already valid UTF-8) is exactly one JSON value, with optional whitespace
    /// around it. Used by tests to compare the scanner with Foundation.
    static func validateSyntax(_ bytes: UnsafeRawBufferPointer) -> JSONSyntaxError? {
        var scanner = JSONScanner(bytes: bytes)
        do {
            try scanner.skipValue(depth: 0)
            try scanner.expectEnd()
            return nil
        } catch {
            return error
        }
    }

    /// A string, number or literal at the cursor.
    private mutating func scanScalar() throws(JSONSyntaxError) -> JSONToken {
        guard let byte = current else { throw malformed("expected a JSON value") }
        switch byte {
        case JSONByte.quote: return try scanString()
        case JSONByte.minus, JSONByte.digitZero...JSONByte.digitNine: return try scanNumber()
        case UInt8(ascii: "t"): return try scanLiteral("true", kind: .bool)
        case UInt8(ascii: "f"): return try scanLiteral("false", kind: .bool)
        case UInt8(ascii: "n"): return try scanLiteral("null", kind: .null)
        default: throw malformed("expected a JSON value")
        }
    }

    /// Skips the object or array at the cursor without recursion: `open` counts the containers entered here,
    /// `stack` remembers which of them are objects.
    private mutating func skipContainer(depth: Int) throws(JSONSyntaxError) {
        var stack = ContainerStack()
        var open = 0
        while true {
            // Here the cursor is at a '{' or '['.
            let isObject = bytes[position] == JSONByte.openBrace
            guard depth + open + 1 <= Self.maxDepth else {
                throw JSONSyntaxError(offset: position, kind: .tooDeep)
            }
            position += 1
            skipWhitespace()
            if current == (isObject ? JSONByte.closeBrace : JSONByte.closeBracket) {
                position += 1
            } else {
                open += 1
                stack.set(level: open, isObject: isObject)
                if isObject { _ = try scanKey() }
                if try scanLeafOrStopAtContainer() { continue }
            }
            // A value just ended: close containers until one continues with a further value.
            closing: while true {
                guard open > 0 else { return }
                let inObject = stack.isObject(level: open)
                guard inObject ? try nextMember() : try nextElement() else {
                    open -= 1
                    continue closing
                }
                if inObject { _ = try scanKey() }
                if try scanLeafOrStopAtContainer() { break closing }
            }
        }
    }

    /// Scans a scalar value, or returns true with the cursor left on a nested container's opening byte.
    private mutating func scanLeafOrStopAtContainer() throws(JSONSyntaxError) -> Bool {
        skipWhitespace()
        if let byte = current, byte == JSONByte.openBrace || byte == JSONByte.openBracket { return true }
        _ = try scanScalar()
        return false
    }

    // MARK: Numbers and literals

    /// RFC 8259: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`. The token's flag is set for a
    /// negative number that is not zero, which is all the ">= 0" rules need.
    mutating func scanNumber() throws(JSONSyntaxError) -> JSONToken {
        let start = position
        var index = position
        let count = bytes.count
        var negative = false
        var nonZero = false
        if index < count, bytes[index] == JSONByte.minus {
            negative = true
            index += 1
        }
        guard index < count, JSONByte.isDigit(bytes[index]) else {
            throw malformed("expected a digit in the number", at: index)
        }
        if bytes[index] == JSONByte.digitZero {
            index += 1
            if index < count, JSONByte.isDigit(bytes[index]) {
                throw malformed("numbers must not have leading zeros", at: index)
            }
        } else {
            while index < count, JSONByte.isDigit(bytes[index]) {
                nonZero = nonZero || bytes[index] != JSONByte.digitZero
                index += 1
            }
        }
        if index < count, bytes[index] == JSONByte.period {
            index += 1
            guard index < count, JSONByte.isDigit(bytes[index]) else {
                throw malformed("expected a digit after the decimal point", at: index)
            }
            while index < count, JSONByte.isDigit(bytes[index]) {
                nonZero = nonZero || bytes[index] != JSONByte.digitZero
                index += 1
            }
        }
        if index < count, bytes[index] | 0x20 == UInt8(ascii: "e") {
            index += 1
            if index < count, bytes[index] == JSONByte.plus || bytes[index] == JSONByte.minus { index += 1 }
            guard index < count, JSONByte.isDigit(bytes[index]) else {
                throw malformed("expected a digit in the exponent", at: index)
            }
            while index < count, JSONByte.isDigit(bytes[index]) { index += 1 }
        }
        position = index
        return JSONToken(kind: .number, start: start, end: index, flag: negative && nonZero)
    }

    private mutating func scanLiteral(
        _ literal: StaticString,
        kind: JSONValueKind
    ) throws(JSONSyntaxError) -> JSONToken {
        let start = position
        let length = literal.utf8CodeUnitCount
        let matches = literal.withUTF8Buffer { expected in
            guard start + length <= bytes.count else { return false }
            for offset in 0..<length where bytes[start + offset] != expected[offset] { return false }
            return true
        }
        guard matches else {
            throw malformed("expected a JSON value (true, false, null, a number, a string, an object or an array)")
        }
        position = start + length
        return JSONToken(kind: kind, start: start, end: position, flag: false)
    }

    // MARK: Errors

    func malformed(_ expectation: String, at offset: Int? = nil) -> JSONSyntaxError {
        let at = offset ?? position
        return JSONSyntaxError(offset: at, kind: .malformed("\(expectation), found \(describeByte(at: at))"))
    }

    private func describeByte(at offset: Int) -> String {
        guard offset < bytes.count else { return "end of line" }
        let byte = bytes[offset]
        switch byte {
        case 0x21...0x7E: return "'\(Character(Unicode.Scalar(byte)))'"
        case 0x00..<0x20, 0x7F: return "control character U+\(String(byte, radix: 16, uppercase: true).leftPadded(4))"
        case JSONByte.space: return "a space"
        default: return "a non-ASCII character"
        }
    }
}

/// The first syntax fault of a line. It ends the scan, so it is the only fault the line reports.
struct JSONSyntaxError: Error, Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        /// What the scanner expected, and what it found instead.
        case malformed(String)
        case unpairedSurrogate
        case tooDeep
    }

    /// Offset within the line, from 0.
    var offset: Int
    var kind: Kind

    var message: String {
        switch kind {
        case .malformed(let detail):
            "malformed JSON at byte \(offset): \(detail)"
        case .unpairedSurrogate:
            "unpaired UTF-16 surrogate escape at byte \(offset): a \\uD800-\\uDBFF escape must be followed by a "
                + "\\uDC00-\\uDFFF escape"
        case .tooDeep:
            "JSON nested deeper than \(JSONScanner.maxDepth) levels (at byte \(offset)): flatten the data"
        }
    }
}

/// One bit per open container (1 = object, 0 = array) for up to 512 levels, kept inline so that skipping
/// deeply nested input neither allocates nor recurses.
struct ContainerStack {
    private var words: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)

    static let capacity = 512

    /// `level` is 1-based; callers keep it within `1...capacity` (the scanner's depth limit).
    mutating func set(level: Int, isObject: Bool) {
        let index = level - 1
        guard index >= 0, index < Self.capacity else { return }
        let offset = (index >> 6) * 8
        let bit = UInt64(1) << UInt64(index & 63)
        withUnsafeMutableBytes(of: &words) { raw in
            var word = raw.load(fromByteOffset: offset, as: UInt64.self)
            word = isObject ? (word | bit) : (word & ~bit)
            raw.storeBytes(of: word, toByteOffset: offset, as: UInt64.self)
        }
    }

    func isObject(level: Int) -> Bool {
        let index = level - 1
        guard index >= 0, index < Self.capacity else { return false }
        let offset = (index >> 6) * 8
        let bit = UInt64(1) << UInt64(index & 63)
        return withUnsafeBytes(of: words) { raw in
            raw.load(fromByteOffset: offset, as: UInt64.self) & bit != 0
        }
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
