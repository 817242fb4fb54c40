/// The conversation id and a short preview of an event, for dead-letter listings. Parsed whole
/// (`JSONValue`): this runs once per dead letter, never on the ingest path.
struct EventSummary {
    var conversationId: String?
    var preview: String?
    /// `messageType` of a typed event; nil for a standard one.
    var messageType: String?

    static let previewLength = 80

    init(body: [UInt8]) {
        guard let object = JSONValue.parse(body), case .object = object else { return }
        conversationId = object["conversation_id"]?.string ?? object["conversationId"]?.string
        messageType = object["messageType"]?.string
        let text: String? =
            object["message"]?.string ?? object["body"]?.string ?? Self.firstText(object["content"])
            ?? object["name"]?.string
            ?? object["transcript"]?.array?.first?["content"]?.string
        if let text {
            let flat = String(text.map { $0 == "\n" ? " " : $0 })
            preview = flat.count > Self.previewLength ? String(flat.prefix(Self.previewLength - 1)) + "…" : flat
        }
    }

    private static func firstText(_ content: JSONValue?) -> String? {
        if let text = content?.string { return text }
        guard let blocks = content?.array else { return nil }
        return blocks.first { $0["type"]?.string == "text" }?["text"]?.string
    }
}
