/// Walks one line once, checking JSON syntax and the event schemas together. Schema faults are collected
/// (every one of them, for the reply); the first syntax fault ends the walk and is reported alone.
///
/// Slots for known keys live in caller-provided buffers (stack memory in `EventValidator`), so an event
/// costs no allocation unless it has faults.
struct LineParser {
    /// Capacity `nestedSlots` needs: content blocks and transcript entries share it.
    static var nestedSlotCount: Int { max(BlockField.count, TranscriptField.count) }

    var scanner: JSONScanner
    /// The known fields of the event being walked (`EventField.count` slots).
    let eventSlots: UnsafeMutableBufferPointer<FieldSlot>
    /// The known fields of the content block or transcript entry being walked.
    let nestedSlots: UnsafeMutableBufferPointer<FieldSlot>
    /// Where faults of the event being walked are reported.
    var path = FaultPath()
    /// Faults of every event walked so far.
    var faults: [String] = []
    /// Faults found inside an array field of the current event. They count only if the event's schema
    /// (known once all its keys are read) covers that field.
    var pendingNested: [(field: EventField, message: String)] = []
    /// Faults of the envelope itself.
    private var envelopeFaults: [String] = []
    private var records: [EventRecord] = []

    init(
        bytes: UnsafeRawBufferPointer,
        eventSlots: UnsafeMutableBufferPointer<FieldSlot>,
        nestedSlots: UnsafeMutableBufferPointer<FieldSlot>
    ) {
        self.scanner = JSONScanner(bytes: bytes)
        self.eventSlots = eventSlots
        self.nestedSlots = nestedSlots
    }

    mutating func parse() -> ParsedLine {
        do {
            scanner.skipWhitespace()
            guard scanner.current == JSONByte.openBrace else {
                try scanner.skipValue(depth: 0)
                try scanner.expectEnd()
                return .notAnObject
            }
            let line = try parseTopLevelObject()
            try scanner.expectEnd()
            return line
        } catch {
            return .syntaxError(error)
        }
    }

    /// The top-level object is an envelope if it has an `events` key, wherever that key is; until the walk
    /// ends it is also recorded as a possible bare event.
    private mutating func parseTopLevelObject() throws(JSONSyntaxError) -> ParsedLine {
        let start = scanner.position
        resetSlots(eventSlots)
        var eventsKeys = 0
        var environment = FieldSlot.absent
        var strayKeys = 0
        var more = try scanner.beginObject(level: 1)
        let isEmpty = !more
        while more {
            let key = try scanner.scanKey()
            switch EventField.matcher.match(key, in: scanner) {
            case .events?:
                eventsKeys += 1
                try parseEventsArray()
            case let field?:
                let token = try recordEventMember(field, depth: 1)
                if field == .environment {
                    environment.record(token)
                } else {
                    strayKeys += 1
                }
            case nil:
                strayKeys += 1
                try scanner.skipValue(depth: 1)
            }
            more = try scanner.nextMember()
        }
        guard eventsKeys > 0 else {
            path = FaultPath(eventIndex: nil)
            let record = finishEvent(start: start, end: scanner.position, isEmpty: isEmpty)
            return .bareEvent(record, faults: faults)
        }
        if eventsKeys > 1 {
            envelopeFaults.append("duplicate key \"events\": send one events array")
        }
        if environment.occurrences > 1 {
            envelopeFaults.append("duplicate key \"environment\": send each field once")
        }
        if environment.isPresent, environment.token.kind != .string {
            envelopeFaults.append("environment must be a string (got \(describe(environment.token)))")
        }
        if strayKeys > 0 {
            reportStrayEnvelopeKeys(objectStart: start)
        }
        let envelopeEnvironment = environment.token.kind == .string ? environment.token : nil
        let allFaults = envelopeFaults.isEmpty ? faults : envelopeFaults + faults
        return .envelope(records, environment: envelopeEnvironment, faults: allFaults)
    }

    private mutating func parseEventsArray() throws(JSONSyntaxError) {
        scanner.skipWhitespace()
        guard scanner.current == JSONByte.openBracket else {
            let token = try scanner.scanValue(depth: 1)
            envelopeFaults.append("events must be an array of event objects (got \(describe(token)))")
            return
        }
        var more = try scanner.beginArray(level: 2)
        if !more {
            envelopeFaults.append("events must not be empty: send at least one event")
        }
        var index = 0
        while more {
            scanner.skipWhitespace()
            path = FaultPath(eventIndex: index)
            if scanner.current == JSONByte.openBrace {
                if let record = try parseEvent(level: 3) {
                    records.append(record)
                }
            } else {
                let token = try scanner.scanValue(depth: 2)
                faults.append("\(path.eventPrefix)must be a JSON object (got \(describe(token)))")
            }
            index += 1
            more = try scanner.nextElement()
        }
    }

    /// Names each top-level key other than `environment` and `events`: an envelope would drop them silently.
    /// Runs only when there are such keys, on an object already known to be valid JSON.
    private mutating func reportStrayEnvelopeKeys(objectStart: Int) {
        var rescan = JSONScanner(bytes: scanner.bytes, position: objectStart)
        do {
            var more = try rescan.beginObject(level: 1)
            while more {
                let key = try rescan.scanKey()
                let field = EventField.matcher.match(key, in: rescan)
                if field != .events, field != .environment {
                    envelopeFaults.append(
                        "unknown envelope key \(describe(key)): an envelope holds only \"environment\" and \"events\""
                    )
                }
                try rescan.skipValue(depth: 1)
                more = try rescan.nextMember()
            }
        } catch {
            // Unreachable: the first pass accepted this object.
        }
    }

    func resetSlots(_ slots: UnsafeMutableBufferPointer<FieldSlot>) {
        slots.update(repeating: .absent)
    }
}

/// The outcome of walking one line, before stored bodies are built.
enum ParsedLine {
    case syntaxError(JSONSyntaxError)
    /// Valid JSON whose top-level value is not an object.
    case notAnObject
    /// `record` is nil when the event broke a rule (then `faults` says how).
    case bareEvent(EventRecord?, faults: [String])
    /// `environment` is the envelope's `environment` string token, if it has one.
    case envelope([EventRecord], environment: JSONToken?, faults: [String])
}

/// What one known key of an object held: its last value and how often the key occurred (to catch duplicates).
/// Kept to 24 bytes so that a whole event's slots fit in the stack allocation `EventValidator` makes.
struct FieldSlot: Sendable {
    var token: JSONToken
    /// Saturates at 255; only "more than one" matters.
    var occurrences: UInt8

    static let absent = FieldSlot(token: .absent, occurrences: 0)

    /// `null` counts as absent for every field.
    var isPresent: Bool { token.kind != .absent && token.kind != .null }

    mutating func record(_ value: JSONToken) {
        token = value
        occurrences &+= occurrences == .max ? 0 : 1
    }
}
