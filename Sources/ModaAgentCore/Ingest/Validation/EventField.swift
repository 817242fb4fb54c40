/// Every key the event schemas name (standard and `messageType` events together, since an event's type may
/// only be known after its last key), plus the envelope's `events`.
enum EventField: Int, KnownKey {
    // Standard events
    case standardConversationID
    case role
    case message
    case content
    case timestamp
    case traceID
    case standardUserID
    case model
    case provider
    case environment
    case promptID
    case promptName
    case promptVersion
    case inputTokens
    case outputTokens
    case reasoningTokens
    case contentBlocks
    // Events with a messageType
    case messageType
    case id
    case conversationID
    case userID
    case metadata
    case name
    case toolCallRequest
    case toolCallResponse
    case body
    case inReplyTo
    case subject
    case from
    case to
    case transcript
    case duration
    case callType
    // Envelope
    case events

    static let matcher = KeyMatcher<EventField>()

    var name: StaticString {
        switch self {
        case .standardConversationID: "conversation_id"
        case .role: "role"
        case .message: "message"
        case .content: "content"
        case .timestamp: "timestamp"
        case .traceID: "trace_id"
        case .standardUserID: "user_id"
        case .model: "model"
        case .provider: "provider"
        case .environment: "environment"
        case .promptID: "prompt_id"
        case .promptName: "prompt_name"
        case .promptVersion: "prompt_version"
        case .inputTokens: "input_tokens"
        case .outputTokens: "output_tokens"
        case .reasoningTokens: "reasoning_tokens"
        case .contentBlocks: "content_blocks"
        case .messageType: "messageType"
        case .id: "id"
        case .conversationID: "conversationId"
        case .userID: "userId"
        case .metadata: "metadata"
        case .name: "name"
        case .toolCallRequest: "toolCallRequest"
        case .toolCallResponse: "toolCallResponse"
        case .body: "body"
        case .inReplyTo: "inReplyTo"
        case .subject: "subject"
        case .from: "from"
        case .to: "to"
        case .transcript: "transcript"
        case .duration: "duration"
        case .callType: "callType"
        case .events: "events"
        }
    }
}
