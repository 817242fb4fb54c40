/// The field rules of each event shape in moda-ingest-api.md: the standard event (no `messageType`) and
/// the `channel`, `tool_call`, `email` and `call` events.
struct EventSchema: Sendable {
    let fields: [FieldSpec<EventField>]
    /// Standard events need `message` or `content`, which no single field rule can say.
    let requiresMessageOrContent: Bool

    static let messageTypes: [StaticString] = ["channel", "tool_call", "email", "call"]
    static let messageTypeRule = FieldRule.oneOf(messageTypes)

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

    private static let chatRoles = FieldRule.oneOf(["user", "assistant", "system"])

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
        FieldSpec(.role, .oneOf(["user", "assistant"]), required: true),
        FieldSpec(.body, .string, required: true),
        FieldSpec(.inReplyTo, .string),
        FieldSpec(.subject, .string),
        FieldSpec(.from, .string),
        FieldSpec(.to, .stringArray),
    ])

    static let call = typed([
        FieldSpec(.transcript, .transcript, required: true),
        FieldSpec(.duration, .nonNegativeNumber),
        FieldSpec(.callType, .oneOf(["phone", "video", "voice"])),
    ])

    /// Whether this schema validates `field` at all (faults found inside other fields are dropped).
    func covers(_ field: EventField) -> Bool {
        fields.contains { $0.key == field }
    }
}
