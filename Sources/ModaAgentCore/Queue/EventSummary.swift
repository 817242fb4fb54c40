import Foundation

/// The conversation id and a short preview of an event, for dead-letter listings. Parsed with
/// Foundation: this runs once per dead letter, never on the ingest path.
struct EventSummary {
    var conversationId: String?
    var preview: String?

    static let previewLength = 80

    init(body: [UInt8]) {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else {
            return
        }
        conversationId = (object["conversation_id"] as? String) ?? (object["conversationId"] as? String)
        let text: String? =
            (object["message"] as? String) ?? (object["body"] as? String) ?? Self.firstText(object["content"])
            ?? (object["name"] as? String)
            ?? ((object["transcript"] as? [[String: Any]])?.first?["content"] as? String)
        if let text {
            let flat = text.replacingOccurrences(of: "\n", with: " ")
            preview = flat.count > Self.previewLength ? String(flat.prefix(Self.previewLength - 1)) + "…" : flat
        }
    }

    private static func firstText(_ content: Any?) -> String? {
        if let text = content as? String { return text }
        guard let blocks = content as? [[String: Any]] else { return nil }
        return blocks.first { ($0["type"] as? String) == "text" }?["text"] as? String
    }
}
