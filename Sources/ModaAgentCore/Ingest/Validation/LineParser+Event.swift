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

/// Arrays inside an event whose entries have rules of their own: content blocks, call transcript entries,
/// email recipients. Their faults go to `pendingNested`, prefixed with the entry's path.
extension LineParser {
    /// `content` or `content_blocks` as an array. The cursor is at its `[`; `depth` counts the containers
    /// around it.
    mutating func walkContentBlocks(of field: EventField, depth: Int) throws(JSONSyntaxError) -> JSONToken {
        try walkArray(depth: depth) { parser, index throws(JSONSyntaxError) in
            try parser.objectEntry(
                of: field,
                index: index,
                depth: depth,
                expected: "a content block with a string \"type\""
            ) { parser throws(JSONSyntaxError) in
                try parser.walkContentBlock(of: field, index: index, level: depth + 2)
            }
        }
    }

    private mutating func walkContentBlock(of field: EventField, index: Int, level: Int) throws(JSONSyntaxError) {
        try recordMembers(BlockField.self, level: level)
        let type = nestedSlots[BlockField.type.rawValue]
        var specs: [FieldSpec<BlockField>] = []
        var blockType: StaticString = ""
        if type.occurrences > 1 {
            addNested(field, index, "duplicate key \"type\": send each field once")
        }
        if !type.isPresent {
            addNested(field, index, "type is required (a string such as text, thinking, tool_use, tool_result, image)")
        } else if type.token.kind != .string {
            addNested(field, index, "type must be a string (got \(describe(type.token)))")
        } else if let known = matchIndex(type.token, among: ContentBlockSchema.types) {
            specs = ContentBlockSchema.fields(forTypeAt: known)
            blockType = ContentBlockSchema.types[known]
        }
        for spec in specs {
            if let problem = check(spec, nestedSlots[spec.key.rawValue], blockType: blockType) {
                addNested(field, index, problem)
            }
        }
    }

    /// A call's `transcript` array; the cursor is at its `[`.
    mutating func walkTranscript(depth: Int) throws(JSONSyntaxError) -> JSONToken {
        try walkArray(depth: depth) { parser, index throws(JSONSyntaxError) in
            try parser.objectEntry(
                of: .transcript,
                index: index,
                depth: depth,
                expected: "a transcript entry with role and content"
            ) { parser throws(JSONSyntaxError) in
                try parser.recordMembers(TranscriptField.self, level: depth + 2)
                for spec in TranscriptSchema.fields {
                    if let problem = parser.check(spec, parser.nestedSlots[spec.key.rawValue]) {
                        parser.addNested(.transcript, index, problem)
                    }
                }
            }
        }
    }

    /// An array whose elements must be strings (an email's `to`); the cursor is at its `[`.
    mutating func walkStringArray(of field: EventField, depth: Int) throws(JSONSyntaxError) -> JSONToken {
        try walkArray(depth: depth) { parser, index throws(JSONSyntaxError) in
            let token = try parser.scanner.scanValue(depth: depth + 1)
            if token.kind != .string {
                parser.pendingNested.append(
                    (
                        field,
                        "\(parser.path.eventPrefix)\(field.nameString)[\(index)] must be a string "
                            + "(got \(parser.describe(token)))"
                    )
                )
            }
        }
    }

    /// Walks the array at the cursor; `element` is called with the cursor at each entry and must
    /// consume it. Returns the array's token.
    private mutating func walkArray(
        depth: Int,
        _ element: (inout LineParser, Int) throws(JSONSyntaxError) -> Void
    ) throws(JSONSyntaxError) -> JSONToken {
        let start = scanner.position
        var more = try scanner.beginArray(level: depth + 1)
        var index = 0
        while more {
            try element(&self, index)
            index += 1
            more = try scanner.nextElement()
        }
        return JSONToken(kind: .array, start: start, end: scanner.position, flag: false)
    }

    /// An array entry that must be an object: `object` walks it; anything else is a fault naming
    /// what was `expected`.
    private mutating func objectEntry(
        of field: EventField,
        index: Int,
        depth: Int,
        expected: String,
        _ object: (inout LineParser) throws(JSONSyntaxError) -> Void
    ) throws(JSONSyntaxError) {
        scanner.skipWhitespace()
        if scanner.current == JSONByte.openBrace {
            try object(&self)
        } else {
            let token = try scanner.scanValue(depth: depth + 1)
            addNested(field, index, "must be a JSON object (\(expected)) (got \(describe(token)))")
        }
    }

    /// Scans the object at the cursor, recording `Key` fields into `nestedSlots`.
    private mutating func recordMembers<Key: KnownKey>(_: Key.Type, level: Int) throws(JSONSyntaxError) {
        resetSlots(UnsafeMutableBufferPointer(rebasing: nestedSlots[0..<Key.count]))
        var more = try scanner.beginObject(level: level)
        while more {
            let key = try scanner.scanKey()
            let token = try scanner.scanValue(depth: level)
            if let field = Key.matcher.match(key, in: scanner) {
                nestedSlots[field.rawValue].record(token)
            }
            more = try scanner.nextMember()
        }
    }

    private mutating func addNested(_ field: EventField, _ index: Int, _ problem: String) {
        pendingNested.append((field, path.elementPrefix(field, index) + problem))
    }
}
