/// One event object: record its known fields while scanning, then apply the schema its `messageType` picks.
extension LineParser {
    mutating func parseEvent(level: Int) throws(JSONSyntaxError) -> EventRecord? {
        let start = scanner.position
        resetSlots(eventSlots)
        pendingNested.removeAll(keepingCapacity: true)
        var more = try scanner.beginObject(level: level)
        let isEmpty = !more
        while more {
            let key = try scanner.scanKey()
            if let field = EventField.matcher.match(key, in: scanner), field != .events {
                _ = try recordEventMember(field, depth: level)
            } else {
                try scanner.skipValue(depth: level)
            }
            more = try scanner.nextMember()
        }
        return finishEvent(start: start, end: scanner.position, isEmpty: isEmpty)
    }

    /// Scans a known field's value into its slot. Arrays that hold structured entries are checked while
    /// they are scanned, whatever the event's type turns out to be (see `pendingNested`).
    mutating func recordEventMember(_ field: EventField, depth: Int) throws(JSONSyntaxError) -> JSONToken {
        scanner.skipWhitespace()
        let token: JSONToken
        if scanner.current == JSONByte.openBracket {
            switch field {
            case .content, .contentBlocks: token = try walkContentBlocks(of: field, depth: depth)
            case .transcript: token = try walkTranscript(depth: depth)
            case .to: token = try walkStringArray(of: field, depth: depth)
            default: token = try scanner.scanValue(depth: depth)
            }
        } else {
            token = try scanner.scanValue(depth: depth)
        }
        eventSlots[field.rawValue].record(token)
        return token
    }

    /// Applies the event's schema to its recorded fields. Returns the record to store, or nil after adding
    /// the event's faults.
    mutating func finishEvent(start: Int, end: Int, isEmpty: Bool) -> EventRecord? {
        let faultsBefore = faults.count
        let messageType = eventSlots[EventField.messageType.rawValue]
        var schema = EventSchema.standard
        if messageType.isPresent {
            guard let index = matchIndex(messageType.token, among: EventSchema.messageTypes),
                let typed = EventSchema.typed(index)
            else {
                faults.append(
                    "\(path.eventPrefix)messageType must be \(EventSchema.messageTypeRule.expectation) "
                        + "(got \(describe(messageType.token)))"
                )
                return nil
            }
            schema = typed
        }
        for spec in schema.fields {
            if let problem = check(spec, eventSlots[spec.key.rawValue]) {
                faults.append(path.eventPrefix + problem)
            }
        }
        if schema.requiresMessageOrContent, !eventSlots[EventField.message.rawValue].isPresent,
            !eventSlots[EventField.content.rawValue].isPresent
        {
            faults.append(
                "\(path.eventPrefix)message or content is required "
                    + "(message: a string, or content: a string or an array of content blocks)"
            )
        }
        for pending in pendingNested where schema.covers(pending.field) {
            faults.append(pending.message)
        }
        guard faults.count == faultsBefore else { return nil }
        return EventRecord(
            eventIndex: path.eventIndex,
            start: start,
            end: end,
            isEmpty: isEmpty,
            timestamp: StampAction(eventSlots[EventField.timestamp.rawValue]),
            environment: StampAction(eventSlots[EventField.environment.rawValue])
        )
    }
}
