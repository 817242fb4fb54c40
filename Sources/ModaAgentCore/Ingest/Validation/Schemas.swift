/// The field rules of each event shape in moda-ingest-api.md: the standard event (no `messageType`) and
/// the `channel`, `tool_call`, `email` and `call` events.
struct EventSchema: Sendable {
    let fields: [FieldSpec<EventField>]
    /// Standard events need `message` or `content`, which no single field rule can say.
    let requiresMessageOrContent: Bool

    static let messageTypes = Choices.messageType.names
    static let messageTypeRule = FieldRule.oneOf(.messageType)

    /// The schema of a `messageType` value, by its index in `messageTypes`.
    static func typed(_ index: Int) -> EventSchema? {
        switch index {
        case 0: channel
        case 1: toolCall
        case 2: email
        case 3: call
        default: nil
        }
    }

    private static let chatRoles = FieldRule.oneOf(.chatRole)

    static let standard = EventSchema(
        fields: [
            FieldSpec(.standardConversationID, .nonEmptyString, required: true),
            FieldSpec(.role, chatRoles, required: true),
            FieldSpec(.message, .string),
            FieldSpec(.content, .stringOrContentBlocks),
            FieldSpec(.timestamp, .timestamp),
            FieldSpec(.traceID, .string),
            FieldSpec(.standardUserID, .string),
            FieldSpec(.model, .string),
            FieldSpec(.provider, .string),
            FieldSpec(.environment, .string),
            FieldSpec(.promptID, .string),
            FieldSpec(.promptName, .string),
            FieldSpec(.promptVersion, .string),
            FieldSpec(.inputTokens, .nonNegativeNumber),
            FieldSpec(.outputTokens, .nonNegativeNumber),
            FieldSpec(.reasoningTokens, .nonNegativeNumber),
            FieldSpec(.contentBlocks, .contentBlocks),
        ],
        requiresMessageOrContent: true
    )

    /// Every typed event has these; `messageType` is listed only so that a duplicate of it is caught.
    private static func typed(_ specific: [FieldSpec<EventField>]) -> EventSchema {
        let common: [FieldSpec<EventField>] = [
            FieldSpec(.messageType, .anyValue),
            FieldSpec(.id, .nonEmptyString, required: true),
            FieldSpec(.conversationID, .nonEmptyString, required: true),
        ]
        let optional: [FieldSpec<EventField>] = [
            FieldSpec(.userID, .string),
            FieldSpec(.timestamp, .timestamp),
            FieldSpec(.metadata, .object),
            FieldSpec(.environment, .string),
        ]
        return EventSchema(fields: common + specific + optional, requiresMessageOrContent: false)
    }

    static let channel = typed([
        FieldSpec(.message, .string, required: true),
        FieldSpec(.role, chatRoles, required: true),
    ])

    static let toolCall = typed([
        FieldSpec(.name, .string, required: true),
        FieldSpec(.toolCallRequest, .anyValue),
        FieldSpec(.toolCallResponse, .anyValue),
    ])

    static let email = typed([
        FieldSpec(.role, .oneOf(.emailRole), required: true),
        FieldSpec(.body, .string, required: true),
        FieldSpec(.inReplyTo, .string),
        FieldSpec(.subject, .string),
        FieldSpec(.from, .string),
        FieldSpec(.to, .stringArray),
    ])

    static let call = typed([
        FieldSpec(.transcript, .transcript, required: true),
        FieldSpec(.duration, .nonNegativeNumber),
        FieldSpec(.callType, .oneOf(.callType)),
    ])

    /// Whether this schema validates `field` at all (faults found inside other fields are dropped).
    func covers(_ field: EventField) -> Bool {
        fields.contains { $0.key == field }
    }
}

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

/// The fields each documented content block type requires. Unknown block types only need a string `type`.
enum ContentBlockSchema {
    static let types: [StaticString] = ["text", "thinking", "tool_use", "tool_result", "image"]

    static let typeRule = FieldRule.string

    /// The rules for a block whose `type` is `types[index]`.
    static func fields(forTypeAt index: Int) -> [FieldSpec<BlockField>] {
        switch index {
        case 0, 1: textFields
        case 2: toolUseFields
        case 3: toolResultFields
        case 4: imageFields
        default: []
        }
    }

    private static let textFields: [FieldSpec<BlockField>] = [FieldSpec(.text, .string, required: true)]

    private static let toolUseFields: [FieldSpec<BlockField>] = [
        FieldSpec(.toolName, .string, required: true),
        FieldSpec(.toolUseID, .string, required: true),
        FieldSpec(.input, .anyValue),
    ]

    private static let toolResultFields: [FieldSpec<BlockField>] = [
        FieldSpec(.toolUseID, .string, required: true),
        FieldSpec(.isError, .boolean),
        FieldSpec(.content, .anyValue),
    ]

    private static let imageFields: [FieldSpec<BlockField>] = [FieldSpec(.source, .anyValue, required: true)]
}

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

/// The fields of a call transcript entry.
enum TranscriptSchema {
    static let fields: [FieldSpec<TranscriptField>] = [
        FieldSpec(.role, .string, required: true),
        FieldSpec(.content, .string, required: true),
        FieldSpec(.timestamp, .timestamp),
    ]
}

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
