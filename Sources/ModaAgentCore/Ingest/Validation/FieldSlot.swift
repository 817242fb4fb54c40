/// What one known key of an object held: its last value and how often the key occurred (to catch duplicates).
/// Kept to 24 bytes so that a whole event's slots fit in the stack allocation `EventValidator` makes.
struct FieldSlot: Sendable {
    var token: JSONToken
    /// Saturates at 255; only "more than one" matters.
    var occurrences: UInt8

    static let absent = FieldSlot(token: .absent, occurrences: 0)

    /// `null` counts as absent for every field.
    var isPresent: Bool { token.kind != .absent && token.kind != .null }

    mutating func record(_ value: JSONToken) {
        token = value
        occurrences &+= occurrences == .max ? 0 : 1
    }
}
