/// The keys of content blocks (in `content` arrays and `content_blocks`) that some block type requires.
enum BlockField: Int, KnownKey {
    case type
    case text
    case toolName
    case toolUseID
    case input
    case isError
    case content
    case source

    static let matcher = KeyMatcher<BlockField>()

    var name: StaticString {
        switch self {
        case .type: "type"
        case .text: "text"
        case .toolName: "tool_name"
        case .toolUseID: "tool_use_id"
        case .input: "input"
        case .isError: "is_error"
        case .content: "content"
        case .source: "source"
        }
    }
}
