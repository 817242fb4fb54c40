/// Byte classes the detectors share. Detectors read UTF-8 text as bytes: everything they look for is ASCII,
/// and a non-ASCII byte is never part of a finding, so it always separates one.
enum TextByte {
    @inline(__always) static func isDigit(_ byte: UInt8) -> Bool { byte &- 0x30 < 10 }
    @inline(__always) static func isUpper(_ byte: UInt8) -> Bool { byte &- 0x41 < 26 }
    @inline(__always) static func isLower(_ byte: UInt8) -> Bool { byte &- 0x61 < 26 }
    @inline(__always) static func isLetter(_ byte: UInt8) -> Bool { (byte | 0x20) &- 0x61 < 26 }
    @inline(__always) static func isAlnum(_ byte: UInt8) -> Bool { isDigit(byte) || isLetter(byte) }
    @inline(__always) static func isHex(_ byte: UInt8) -> Bool { isDigit(byte) || (byte | 0x20) &- 0x61 < 6 }
    @inline(__always) static func digitValue(_ byte: UInt8) -> Int { Int(byte &- 0x30) }

    static let space = UInt8(ascii: " ")
    static let dash = UInt8(ascii: "-")
    static let dot = UInt8(ascii: ".")
    static let colon = UInt8(ascii: ":")
    static let plus = UInt8(ascii: "+")
    static let at = UInt8(ascii: "@")
    static let underscore = UInt8(ascii: "_")
}

/// A span of text one detector or pattern names. `label` indexes `RedactionRules.labels`.
struct Finding: Sendable, Equatable {
    var start: Int
    var end: Int
    var label: Int
}

extension UnsafeRawBufferPointer {
    /// Whether `literal` occurs at `offset`.
    @inline(__always)
    func has(_ literal: StaticString, at offset: Int) -> Bool {
        let length = literal.utf8CodeUnitCount
        guard offset >= 0, offset + length <= count else { return false }
        return literal.withUTF8Buffer { expected in
            for index in 0..<length where self[offset + index] != expected[index] { return false }
            return true
        }
    }

    /// Whether the byte before `offset` (if any) satisfies `test`; false at the start.
    @inline(__always)
    func byte(before offset: Int, _ test: (UInt8) -> Bool) -> Bool {
        offset > 0 && test(self[offset - 1])
    }

    @inline(__always)
    func byte(at offset: Int, _ test: (UInt8) -> Bool) -> Bool {
        offset >= 0 && offset < count && test(self[offset])
    }
}
