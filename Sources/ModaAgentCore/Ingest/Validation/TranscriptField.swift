/// The keys of a call transcript entry.
enum TranscriptField: Int, KnownKey {
    case role
    case content
    case timestamp

    static let matcher = KeyMatcher<TranscriptField>()

    var name: StaticString {
        switch self {
        case .role: "role"
        case .content: "content"
        case .timestamp: "timestamp"
        }
    }
}
