/// One record of `modactl tail` (docs/tracing.md): an event accepted, a request delivered or
/// refused, a line rejected, or how many records a tail missed. Sent to the tail as one JSON line.
public struct TailRecord: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        case accepted
        case delivered
        case deadLettered = "dead-lettered"
        case rejected
    }

    public var line: String
    public var kind: Kind?
    /// When it happened (wall clock), to merge the recent records in order.
    var at: Double = 0
    /// The conversation key, for a tail that follows one conversation; nil for rejected lines.
    var conversation: UInt64?
    /// Delivered and dead-lettered: narrowed to one conversation's ids on demand.
    var delivery: DeliveryRecord?
    var deadLetterID: Int64?

    /// An accepted event: its id, conversation, type, stored size and a preview of the stored text.
    static func accepted(id: Int64, event: PreparedEvent, at: Double) -> TailRecord {
        let summary = EventSummary(body: event.body)
        var json = OrderedJSON()
        json.add("kind", "accepted")
        json.add("at", .string(Timestamp.iso8601(at)))
        json.add("id", JSONValue(id))
        json.add("conversationId", JSONValue(summary.conversationId))
        json.add("messageType", .string(summary.messageType ?? "message"))
        json.add("bytes", JSONValue(event.body.count))
        json.add("preview", JSONValue(summary.preview))
        return TailRecord(line: json.line, kind: .accepted, at: at, conversation: event.conversation)
    }

    static func delivery(_ record: DeliveryRecord, deadLetterID: Int64?) -> TailRecord {
        let kind: Kind = deadLetterID == nil && record.message == nil ? .delivered : .deadLettered
        var tail = TailRecord(line: "", kind: kind, at: record.at, delivery: record, deadLetterID: deadLetterID)
        tail.line = tail.deliveryLine(only: nil) ?? ""
        return tail
    }

    static func rejected(source: String, error: String, at: Double) -> TailRecord {
        var json = OrderedJSON()
        json.add("kind", "rejected")
        json.add("at", .string(Timestamp.iso8601(at)))
        json.add("source", .string(source))
        json.add("error", .string(error))
        return TailRecord(line: json.line, kind: .rejected, at: at)
    }

    /// Told to a tail before its next record: `count` records it could not take were dropped.
    static func missed(_ count: Int, at: Double) -> String {
        var json = OrderedJSON()
        json.add("kind", "missed")
        json.add("at", .string(Timestamp.iso8601(at)))
        json.add("count", JSONValue(count))
        return json.line
    }

    /// Whether a tail following `conversation` (nil: all) sees this record.
    func concerns(_ conversation: UInt64?) -> Bool {
        guard let conversation else { return true }
        if let delivery { return delivery.groups.contains { $0.conversation == conversation } }
        return self.conversation == conversation
    }

    /// The line for a tail following `conversation`: a request's ids narrowed to that conversation's.
    func line(for conversation: UInt64?) -> String {
        guard let conversation, delivery != nil else { return line }
        return deliveryLine(only: conversation) ?? line
    }

    private func deliveryLine(only conversation: UInt64?) -> String? {
        guard let delivery, let kind else { return nil }
        let ids = delivery.groups.filter { conversation == nil || $0.conversation == conversation }
            .flatMap(\.ids).sorted()
        var json = OrderedJSON()
        json.add("kind", .string(kind.rawValue))
        json.add("at", .string(Timestamp.iso8601(delivery.at)))
        json.add("ids", .array(IDRuns(ids).map { .array([JSONValue($0.lowerBound), JSONValue($0.upperBound)]) }))
        json.add("events", JSONValue(ids.count))
        json.add("status", JSONValue(delivery.status))
        json.add("requestId", JSONValue(delivery.requestId))
        json.add("latencyMs", JSONValue(delivery.latency.map { ($0 * 10_000).rounded() / 10 }))
        if kind == .deadLettered {
            json.add("message", JSONValue(delivery.message))
            json.add("deadLetterId", ifPresent: deadLetterID.map { JSONValue($0) })
        }
        return json.line
    }
}
