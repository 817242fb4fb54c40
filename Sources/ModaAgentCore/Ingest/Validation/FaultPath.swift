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
