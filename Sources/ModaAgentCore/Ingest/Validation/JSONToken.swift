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
