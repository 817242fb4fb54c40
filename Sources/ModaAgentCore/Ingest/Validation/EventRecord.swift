/// One valid event found in a line: where its object lies and what the stored body must add.
struct EventRecord: Sendable {
    /// Index in the envelope's `events`; nil for a bare event.
    var eventIndex: Int?
    /// Offsets of the event's `{` and just past its `}`.
    var start: Int
    var end: Int
    /// `{}` with no members: an inserted member then needs no leading comma.
    var isEmpty: Bool
    var timestamp: StampAction
    var environment: StampAction
}
