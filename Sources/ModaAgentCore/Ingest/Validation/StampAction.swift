/// What the stored body needs for one of the members the agent fills in (`timestamp`, `environment`).
enum StampAction: Sendable, Equatable {
    /// The event has a value of its own.
    case keep
    /// The key is absent: add a member before the closing `}`.
    case insert
    /// The key is present as `null`, whose 4 bytes start at this offset: replace them with the value.
    case replaceNull(at: Int)

    init(_ slot: FieldSlot) {
        switch slot.token.kind {
        case .absent: self = .insert
        case .null: self = .replaceNull(at: slot.token.start)
        default: self = .keep
        }
    }
}
