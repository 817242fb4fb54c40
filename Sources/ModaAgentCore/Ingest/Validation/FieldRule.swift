/// What one field's value must be. The `expectation` text completes both fault messages:
/// "<field> is required (<expectation>)" and "<field> must be <expectation> (got <value>)".
enum FieldRule: Sendable {
    case string
    case nonEmptyString
    case oneOf(Choices)
    case nonNegativeNumber
    case timestamp
    case object
    case boolean
    case contentBlocks
    case stringOrContentBlocks
    case stringArray
    case transcript
    /// Any value; the field is known only so that its duplicates and its absence (if required) are caught.
    case anyValue

    var expectation: String {
        switch self {
        case .string: "a string"
        case .nonEmptyString: "a non-empty string"
        case .oneOf(let choices): "one of " + choices.names.map(\.description).joined(separator: ", ")
        case .nonNegativeNumber: "a number >= 0"
        case .timestamp: "an ISO 8601 date-time like 2024-01-15T10:30:00Z"
        case .object: "a JSON object"
        case .boolean: "true or false"
        case .contentBlocks: "an array of content blocks"
        case .stringOrContentBlocks: "a string or an array of content blocks"
        case .stringArray: "an array of strings"
        case .transcript: "an array of transcript entries"
        case .anyValue: "any JSON value but null"
        }
    }
}

/// One field of a schema: which key, what its value must be, and whether it must be present.
/// The closed sets of names a field may take. A case rather than the array itself, so `FieldRule` and
/// `FieldSpec` are trivial values: every field of every event is checked against a copied spec, and
/// an array payload made each copy a retain and a release (about 10 % of validation's samples, perf).
enum Choices: Sendable {
    case messageType
    case chatRole
    case emailRole
    case callType

    var names: [StaticString] {
        switch self {
        case .messageType: Self.messageTypes
        case .chatRole: Self.chatRoles
        case .emailRole: Self.emailRoles
        case .callType: Self.callTypes
        }
    }

    private static let messageTypes: [StaticString] = ["channel", "tool_call", "email", "call"]
    private static let chatRoles: [StaticString] = ["user", "assistant", "system"]
    private static let emailRoles: [StaticString] = ["user", "assistant"]
    private static let callTypes: [StaticString] = ["phone", "video", "voice"]
}

struct FieldSpec<Key: KnownKey>: Sendable {
    let key: Key
    let rule: FieldRule
    let required: Bool

    init(_ key: Key, _ rule: FieldRule, required: Bool = false) {
        self.key = key
        self.rule = rule
        self.required = required
    }
}

/// Checking one recorded field against its spec: what each `FieldRule` case accepts.
extension LineParser {
    /// The fault of one field, without its path, or nil if the field is fine.
    /// `blockType` names the content block type whose rule requires the field, for the message.
    func check<Key: KnownKey>(_ spec: FieldSpec<Key>, _ slot: FieldSlot, blockType: StaticString? = nil) -> String? {
        if slot.occurrences > 1 {
            return "duplicate key \"\(spec.key.nameString)\": send each field once"
        }
        guard slot.isPresent else {
            guard spec.required else { return nil }
            let context = blockType.map { " in a block of type \"\($0)\"" } ?? ""
            return "\(spec.key.nameString) is required (\(spec.rule.expectation))\(context)"
        }
        guard satisfies(spec.rule, slot.token) else {
            return "\(spec.key.nameString) must be \(spec.rule.expectation) (got \(describe(slot.token)))"
        }
        return nil
    }

    func satisfies(_ rule: FieldRule, _ token: JSONToken) -> Bool {
        switch rule {
        case .string: token.kind == .string
        case .nonEmptyString: token.kind == .string && token.end - token.start > 2
        case .oneOf(let choices): matchIndex(token, among: choices.names) != nil
        case .nonNegativeNumber: token.kind == .number && !token.flag
        case .timestamp: token.kind == .string && isDateTime(token)
        case .object: token.kind == .object
        case .boolean: token.kind == .bool
        case .contentBlocks, .stringArray, .transcript: token.kind == .array
        case .stringOrContentBlocks: token.kind == .string || token.kind == .array
        case .anyValue: true
        }
    }

    /// The index of the name a string token equals, if any.
    func matchIndex(_ token: JSONToken, among names: [StaticString]) -> Int? {
        guard token.kind == .string else { return nil }
        return names.firstIndex { scanner.string(token, equals: $0) }
    }

    private func isDateTime(_ token: JSONToken) -> Bool {
        if token.flag {
            return scanner.decodedString(token).withUnsafeBytes { ISO8601Check.isDateTime($0) }
        }
        return ISO8601Check.isDateTime(UnsafeRawBufferPointer(rebasing: scanner.bytes[token.stringContent]))
    }
}
