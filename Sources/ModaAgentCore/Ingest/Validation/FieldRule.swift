/// What one field's value must be. The `expectation` text completes both fault messages:
/// "<field> is required (<expectation>)" and "<field> must be <expectation> (got <value>)".
enum FieldRule: Sendable {
    case string
    case nonEmptyString
    case oneOf([StaticString])
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
        case .oneOf(let names): "one of " + names.map(\.description).joined(separator: ", ")
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
