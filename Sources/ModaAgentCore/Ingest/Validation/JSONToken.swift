/// Where one scanned value lies in the line. `flag` keeps the one fact a rule needs later, so no value is
/// scanned twice: for a string, that it contains escapes; for a number, that it is negative and not zero.
struct JSONToken: Sendable {
    /// Offset of the value's first byte (the opening quote of a string).
    var start: Int
    /// Offset just past the value's last byte.
    var end: Int
    // The small fields come last so that a slot stays 24 bytes (see `FieldSlot`).
    var kind: JSONValueKind
    var flag: Bool

    init(kind: JSONValueKind, start: Int, end: Int, flag: Bool) {
        self.start = start
        self.end = end
        self.kind = kind
        self.flag = flag
    }

    static let absent = JSONToken(kind: .absent, start: 0, end: 0, flag: false)

    /// A string's bytes without the quotes (still escaped when `flag` is set).
    var stringContent: Range<Int> { (start + 1)..<(end - 1) }
}

/// The JSON type of a scanned value; `absent` marks a key that did not occur.
enum JSONValueKind: UInt8, Sendable {
    case absent
    case null
    case string
    case number
    case bool
    case object
    case array
}

/// Names for the bytes JSON syntax is made of, so scanning code reads as grammar rather than numbers.
/// A namespace rather than `UInt8` extensions, to keep them out of the rest of the module.
enum JSONByte {
    static let tab = UInt8(ascii: "\t")
    static let lineFeed = UInt8(ascii: "\n")
    static let carriageReturn = UInt8(ascii: "\r")
    static let space = UInt8(ascii: " ")
    static let quote = UInt8(ascii: "\"")
    static let backslash = UInt8(ascii: "\\")
    static let comma = UInt8(ascii: ",")
    static let colon = UInt8(ascii: ":")
    static let period = UInt8(ascii: ".")
    static let plus = UInt8(ascii: "+")
    static let minus = UInt8(ascii: "-")
    static let digitZero = UInt8(ascii: "0")
    static let digitNine = UInt8(ascii: "9")
    static let openBrace = UInt8(ascii: "{")
    static let closeBrace = UInt8(ascii: "}")
    static let openBracket = UInt8(ascii: "[")
    static let closeBracket = UInt8(ascii: "]")

    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool { byte &- digitZero < 10 }
}
