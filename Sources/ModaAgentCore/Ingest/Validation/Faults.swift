/// Why a whole line was refused. The socket server prefixes the message with `line N: ` and sends it back,
/// so it names every fault and says what would be accepted instead.
public struct LineRejection: Error, Sendable, Equatable {
    /// Without the "line N: " prefix (the server adds it). Names every fault, joined by "; ".
    public var message: String
    /// An event over `batch.maxEventBytes` is among the faults: a size, not a shape, problem (HTTP 413,
    /// the `too_large` rejection reason).
    public var isTooLarge: Bool

    public init(message: String, isTooLarge: Bool = false) {
        self.message = message
        self.isTooLarge = isTooLarge
    }
}

/// Where a fault sits in the line, written before its message: `events[1]: `, `events[1].content[2]: `,
/// or nothing for a fault of a bare (non-envelope) event.
struct FaultPath: Sendable {
    /// The event's index in the envelope's `events`; nil for a bare event.
    var eventIndex: Int?

    /// Prefix for a fault of the event itself.
    var eventPrefix: String {
        guard let eventIndex else { return "" }
        return "events[\(eventIndex)]: "
    }

    /// Prefix for a fault inside element `index` of the event's array field `field`.
    func elementPrefix(_ field: EventField, _ index: Int) -> String {
        let event = eventIndex.map { "events[\($0)]." } ?? ""
        return "\(event)\(field.nameString)[\(index)]: "
    }
}

/// Formatting of client-supplied values inside fault messages: short enough to read in a reply line,
/// quoted so that spaces and quotes in them stay unambiguous.
enum FaultText {
    static let maxShownCharacters = 40

    static func shortened(_ text: String) -> String {
        guard text.count > maxShownCharacters else { return text }
        return String(text.prefix(maxShownCharacters)) + "…"
    }

    /// `text` shortened and in double quotes, with quotes, backslashes and control characters escaped.
    /// `truncated` says that `text` is already only the start of the value.
    static func quoted(_ text: String, truncated: Bool = false) -> String {
        let shown = text.count > maxShownCharacters ? String(text.prefix(maxShownCharacters)) : text
        let result = JSONText.quoted(shown)
        return truncated || text.count > maxShownCharacters ? result + "…" : result
    }
}

/// Values as fault messages show them.
extension LineParser {
    /// A value as a fault message shows it: strings quoted and shortened, containers by kind.
    func describe(_ token: JSONToken) -> String {
        switch token.kind {
        case .string:
            // Enough bytes for the characters a message shows, however long the value.
            let limit = 4 * FaultText.maxShownCharacters + 64
            let prefix = scanner.decodedString(token, limit: limit)
            return FaultText.quoted(String(decoding: prefix, as: UTF8.self), truncated: prefix.count >= limit)
        case .object:
            return "an object"
        case .array:
            return "an array"
        case .absent:
            return "nothing"
        case .null, .bool, .number:
            let end = min(token.end, token.start + FaultText.maxShownCharacters + 1)
            let text = String(
                decoding: UnsafeRawBufferPointer(rebasing: scanner.bytes[token.start..<end]),
                as: UTF8.self
            )
            return FaultText.shortened(text)
        }
    }
}
