/// Credentials: provider API keys and tokens by their published formats, JWTs (three base64url parts whose
/// first decodes to a JSON header with `alg`), `Bearer` credentials and PEM private key blocks. Ordinary
/// words, hashes and UUIDs have none of these shapes.
///
/// One pass: a token is read from a boundary to the end of its run of key characters and the scan resumes
/// after it; a PEM block's end is searched for once at most past any point.
enum SecretsDetector {
    static func scan(_ text: UnsafeRawBufferPointer, label: Int, into findings: inout [Finding]) {
        var index = 0
        /// Past this offset there is no `-----END`: a later BEGIN needs no search.
        var noEndAfter = Int.max
        while index < text.count {
            let byte = text[index]
            if byte == TextByte.dash {
                if text.has("-----BEGIN ", at: index), let headerEnd = pemHeaderEnd(text, from: index + 11) {
                    var end = text.count
                    if headerEnd < noEndAfter {
                        if let found = pemEnd(text, from: headerEnd) {
                            end = found
                        } else {
                            noEndAfter = headerEnd
                        }
                    }
                    findings.append(Finding(start: index, end: end, label: label))
                    index = end
                    continue
                }
                index += 1
                continue
            }
            guard isKeyByte(byte) || byte == UInt8(ascii: "B") || byte == UInt8(ascii: "b") else {
                index += 1
                continue
            }
            if text.byte(before: index, isKeyByte) {
                index += 1
                continue
            }
            var end = index
            while end < text.count, isKeyByte(text[end]) { end += 1 }
            if let found = match(text, index..<end) {
                findings.append(Finding(start: found.lowerBound, end: found.upperBound, label: label))
                index = found.upperBound
            } else {
                index = end
            }
        }
    }

    /// Letters, digits, `_`, `-` and `.` (the last for JWTs).
    @inline(__always)
    private static func isKeyByte(_ byte: UInt8) -> Bool {
        TextByte.isAlnum(byte) || byte == TextByte.underscore || byte == TextByte.dash || byte == TextByte.dot
    }

    /// The secret in the run `token` (a maximal run of key bytes at a boundary), if it is one.
    private static func match(_ text: UnsafeRawBufferPointer, _ token: Range<Int>) -> Range<Int>? {
        let start = token.lowerBound
        // A sentence's full stop after a key is not part of it.
        var end = token.upperBound
        while end > start, text[end - 1] == TextByte.dot { end -= 1 }
        let length = end - start
        func rest(after prefix: Int, _ allowed: (UInt8) -> Bool, _ lengths: ClosedRange<Int>) -> Range<Int>? {
            guard lengths.contains(length - prefix), (start + prefix..<end).allSatisfy({ allowed(text[$0]) }) else {
                return nil
            }
            return start..<end
        }
        let alnum = TextByte.isAlnum
        let urlSafe: (UInt8) -> Bool = { TextByte.isAlnum($0) || $0 == TextByte.dash || $0 == TextByte.underscore }
        let withDigit: (Range<Int>?) -> Range<Int>? = { range in
            guard let range, range.contains(where: { TextByte.isDigit(text[$0]) }) else { return nil }
            return range
        }
        switch text[start] {
        case UInt8(ascii: "s"):
            if text.has("sk_live_", at: start) { return rest(after: 8, alnum, 16...247) }
            if text.has("sk-ant-", at: start) { return withDigit(rest(after: 7, urlSafe, 20...400)) }
            if text.has("sk-", at: start) { return withDigit(rest(after: 3, urlSafe, 20...400)) }
        case UInt8(ascii: "r"):
            if text.has("rk_live_", at: start) { return rest(after: 8, alnum, 16...247) }
        case UInt8(ascii: "A"):
            if text.has("AKIA", at: start) || text.has("ASIA", at: start) {
                return rest(after: 4, { TextByte.isUpper($0) || TextByte.isDigit($0) }, 16...16)
            }
            if text.has("AIza", at: start) { return rest(after: 4, urlSafe, 35...35) }
        case UInt8(ascii: "g"):
            if text.has("github_pat_", at: start) {
                return rest(after: 11, { TextByte.isAlnum($0) || $0 == TextByte.underscore }, 22...255)
            }
            if length >= 4, text[start + 1] == UInt8(ascii: "h"), text[start + 3] == TextByte.underscore,
                "pousr".utf8.contains(text[start + 2])
            {
                return rest(after: 4, alnum, 36...36)
            }
        case UInt8(ascii: "x"):
            if length >= 5, text.has("xox", at: start), "abpr".utf8.contains(text[start + 3]),
                text[start + 4] == TextByte.dash
            {
                return withDigit(rest(after: 5, { TextByte.isAlnum($0) || $0 == TextByte.dash }, 10...250))
            }
        case UInt8(ascii: "e"):
            if text.has("eyJ", at: start) { return JWTCheck.isJWT(text, start..<end) ? start..<end : nil }
        case UInt8(ascii: "B"), UInt8(ascii: "b"):
            if length == 6, text.has("earer", at: start + 1) { return bearerCredential(text, after: end) }
        default:
            break
        }
        return nil
    }

    /// `Bearer` then spaces then a credential of at least 16 token68 characters with a digit in it: the
    /// credential alone is the finding (`Bearer [REDACTED:secrets]`).
    private static func bearerCredential(_ text: UnsafeRawBufferPointer, after word: Int) -> Range<Int>? {
        var start = word
        while start < text.count, text[start] == TextByte.space { start += 1 }
        guard start > word else { return nil }
        var end = start
        var digits = false
        while end < text.count, isToken68(text[end]) {
            digits = digits || TextByte.isDigit(text[end])
            end += 1
        }
        while end < text.count, text[end] == UInt8(ascii: "=") { end += 1 }
        while end > start, text[end - 1] == TextByte.dot { end -= 1 }
        guard end - start >= 16, digits else { return nil }
        return start..<end
    }

    private static func isToken68(_ byte: UInt8) -> Bool {
        TextByte.isAlnum(byte) || byte == TextByte.dash || byte == TextByte.dot || byte == TextByte.underscore
            || byte == UInt8(ascii: "~") || byte == TextByte.plus || byte == UInt8(ascii: "/")
    }

    /// After `-----BEGIN `: up to 40 upper-case words ending `PRIVATE KEY-----`; the offset past it.
    private static func pemHeaderEnd(_ text: UnsafeRawBufferPointer, from: Int) -> Int? {
        var index = from
        while index < text.count, index - from <= 40, TextByte.isUpper(text[index]) || text[index] == TextByte.space {
            if text.has("PRIVATE KEY-----", at: index) { return index + 16 }
            index += 1
        }
        return nil
    }

    /// The offset past the first `-----END …PRIVATE KEY-----` after `from`.
    private static func pemEnd(_ text: UnsafeRawBufferPointer, from: Int) -> Int? {
        var index = from
        while index + 9 <= text.count {
            if text[index] == TextByte.dash, text.has("-----END ", at: index),
                let end = pemHeaderEnd(text, from: index + 9)
            {
                return end
            }
            index += 1
        }
        return nil
    }
}

/// A JWT: `header.payload.signature` in base64url, the header decoding to a JSON object with an `alg` member.
enum JWTCheck {
    static func isJWT(_ text: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        var dots: [Int] = []
        for index in range where text[index] == TextByte.dot {
            dots.append(index)
            if dots.count > 2 { return false }
        }
        guard dots.count == 2 else { return false }
        let header = range.lowerBound..<dots[0]
        let payload = (dots[0] + 1)..<dots[1]
        guard header.count >= 16, payload.count >= 2,
            (range.lowerBound..<range.upperBound).allSatisfy({ isBase64URL(text[$0]) || text[$0] == TextByte.dot }),
            let decoded = decodeBase64URL(text, header)
        else { return false }
        return hasAlgMember(decoded)
    }

    private static func isBase64URL(_ byte: UInt8) -> Bool {
        TextByte.isAlnum(byte) || byte == TextByte.dash || byte == TextByte.underscore
    }

    static func decodeBase64URL(_ text: UnsafeRawBufferPointer, _ range: Range<Int>) -> [UInt8]? {
        guard range.count % 4 != 1 else { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(range.count * 3 / 4)
        var buffer: UInt32 = 0
        var bits = 0
        for index in range {
            let byte = text[index]
            let value: UInt32
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(byte - 65)
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(byte - 97 + 26)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(byte - 48 + 52)
            case TextByte.dash: value = 62
            case TextByte.underscore: value = 63
            default: return nil
            }
            buffer = buffer << 6 | value
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        return output
    }

    /// `{` … `"alg"` `:` — the header is a JSON object naming its algorithm.
    private static func hasAlgMember(_ json: [UInt8]) -> Bool {
        var index = 0
        while index < json.count,
            json[index] == TextByte.space || json[index] == 0x0A || json[index] == 0x0D
                || json[index] == 0x09
        {
            index += 1
        }
        guard index < json.count, json[index] == UInt8(ascii: "{"), json.last == UInt8(ascii: "}") else {
            return false
        }
        let needle = Array("\"alg\"".utf8)
        var position = index
        while position + needle.count <= json.count {
            if json[position..<(position + needle.count)].elementsEqual(needle) {
                var after = position + needle.count
                while after < json.count, json[after] == TextByte.space { after += 1 }
                if after < json.count, json[after] == TextByte.colon { return true }
            }
            position += 1
        }
        return false
    }
}
