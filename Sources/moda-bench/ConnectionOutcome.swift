/// What one load connection saw: its share of events, the replies that came back (and how many
/// refused), when its last reply arrived, and what went wrong if anything did.
struct ConnectionOutcome: Sendable {
    var expected: Int
    var replies: Int
    var refused: Int
    var firstRefusal: String?
    var finishedAt: UInt64
    var error: String?
}
