/// Strings: scanning with escape checks, and decoding for the few places that need a string's value.
extension JSONScanner {
    /// Scans the string at the cursor (its opening quote). The token's flag is set when it contains escapes.
    mutating func scanString() throws(JSONSyntaxError) -> JSONToken {
        let start = position
        let count = bytes.count
        var index = position + 1
        var hasEscapes = false
        while true {
            // Eight bytes per step until one of them is a quote, a backslash or a control character.
            while index + 8 <= count {
                let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self))
                let special = Self.specialByteMask(word)
                if special != 0 {
                    index += special.trailingZeroBitCount >> 3
                    break
                }
                index += 8
            }
            guard index < count else {
                throw malformed("unterminated string (it starts at byte \(start)): expected a closing '\"'", at: count)
            }
            let byte = bytes[index]
            if byte == JSONByte.quote {
                position = index + 1
                return JSONToken(kind: .string, start: start, end: index + 1, flag: hasEscapes)
            } else if byte == JSONByte.backslash {
                hasEscapes = true
                index = try escapeEnd(at: index)
            } else if byte < 0x20 {
                throw malformed("control characters must be escaped in strings (e.g. \\n, \\t, \\u0000)", at: index)
            } else {
                index += 1
            }
        }
    }

    /// High bit set in each byte lane of `word` that holds '"', '\\' or a byte below 0x20. Only the lowest
    /// flagged lane is exact (borrows can flag lanes above it), which is the only one the caller uses.
    @inline(__always)
    static func specialByteMask(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let quotes = word ^ (ones &* 0x22)
        let backslashes = word ^ (ones &* 0x5C)
        let quoteLanes = (quotes &- ones) & ~quotes
        let backslashLanes = (backslashes &- ones) & ~backslashes
        let controlLanes = (word &- ones &* 0x20) & ~word
        return (quoteLanes | backslashLanes | controlLanes) & 0x8080_8080_8080_8080
    }

    /// Checks the escape whose backslash is at `index`; returns the offset just past it.
    private func escapeEnd(at index: Int) throws(JSONSyntaxError) -> Int {
        guard index + 1 < bytes.count else {
            throw malformed("unterminated string: expected an escape character after '\\'", at: index + 1)
        }
        switch bytes[index + 1] {
        case JSONByte.quote, JSONByte.backslash, UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
            UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            return index + 2
        case UInt8(ascii: "u"):
            guard let unit = hexUnit(at: index + 2) else {
                throw malformed("a \\u escape needs exactly 4 hex digits", at: index)
            }
            switch unit {
            case 0xD800...0xDBFF:
                guard index + 7 < bytes.count, bytes[index + 6] == JSONByte.backslash,
                    bytes[index + 7] == UInt8(ascii: "u"), let low = hexUnit(at: index + 8),
                    (0xDC00...0xDFFF).contains(low)
                else {
                    throw JSONSyntaxError(offset: index, kind: .unpairedSurrogate)
                }
                return index + 12
            case 0xDC00...0xDFFF:
                throw JSONSyntaxError(offset: index, kind: .unpairedSurrogate)
            default:
                return index + 6
            }
        default:
            throw malformed("invalid escape: use \\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX", at: index)
        }
    }

    /// The UTF-16 code unit spelled by the four hex digits at `index`, if there are four.
    private func hexUnit(at index: Int) -> UInt16? {
        guard index + 4 <= bytes.count else { return nil }
        var unit: UInt16 = 0
        for offset in 0..<4 {
            let byte = bytes[index + offset]
            let digit: UInt8
            switch byte {
            case JSONByte.digitZero...JSONByte.digitNine: digit = byte - JSONByte.digitZero
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            unit = unit << 4 | UInt16(digit)
        }
        return unit
    }

    /// The UTF-8 value of a string token that this scanner accepted, or about its first `limit` bytes. Allocates,
    /// so callers use it only when the token has escapes or its text goes into a message.
    func decodedString(_ token: JSONToken, limit: Int = .max) -> [UInt8] {
        var result: [UInt8] = []
        let range = token.stringContent
        result.reserveCapacity(min(range.count, limit))
        var index = range.lowerBound
        while index < range.upperBound, result.count < limit {
            let byte = bytes[index]
            guard byte == JSONByte.backslash, index + 1 < range.upperBound else {
                result.append(byte)
                index += 1
                continue
            }
            let escaped = bytes[index + 1]
            index += 2
            switch escaped {
            case UInt8(ascii: "b"): result.append(0x08)
            case UInt8(ascii: "f"): result.append(0x0C)
            case UInt8(ascii: "n"): result.append(0x0A)
            case UInt8(ascii: "r"): result.append(0x0D)
            case UInt8(ascii: "t"): result.append(0x09)
            case UInt8(ascii: "u"):
                guard let unit = hexUnit(at: index) else { continue }
                index += 4
                var scalar = UInt32(unit)
                if (0xD800...0xDBFF).contains(unit), index + 6 <= range.upperBound,
                    let low = hexUnit(at: index + 2), (0xDC00...0xDFFF).contains(low)
                {
                    scalar = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                    index += 6
                }
                // The scanner rejected lone surrogates; the replacement character only guards the invariant.
                result.append(contentsOf: String(Unicode.Scalar(scalar) ?? "\u{FFFD}").utf8)
            default: result.append(escaped)
            }
        }
        return result
    }

    /// Whether a string token's value equals `expected`, without allocating unless it has escapes.
    func string(_ token: JSONToken, equals expected: StaticString) -> Bool {
        guard token.kind == .string else { return false }
        let range = token.stringContent
        if token.flag {
            let decoded = decodedString(token)
            return expected.withUTF8Buffer { decoded.elementsEqual($0) }
        }
        return expected.withUTF8Buffer { name in
            guard name.count == range.count else { return false }
            for offset in 0..<name.count where bytes[range.lowerBound + offset] != name[offset] { return false }
            return true
        }
    }
}
