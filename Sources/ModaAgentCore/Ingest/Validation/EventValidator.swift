/// Turns one ingest line into the event bodies to queue, or the reason the whole line is refused.
///
/// One pass over the bytes checks UTF-8, then JSON syntax and the schemas of moda-ingest-api.md together
/// (see `LineParser`); no Foundation JSON, and no allocation per byte or per field: only the stored bodies,
/// the result array and fault messages are allocated.
public struct EventValidator: Sendable {
    public let maxEventBytes: Int
    /// The configured environment as JSON string content, escaped once here rather than per event.
    private let defaultEnvironment: [UInt8]?
    /// Rewrites personal data and secrets in each valid event before it is returned for the queue
    /// (docs/redaction.md); the trace receivers use it too. nil: none.
    public let redactor: Redactor?

    public init(maxEventBytes: Int, defaultEnvironment: String?, redactor: Redactor? = nil) {
        self.maxEventBytes = maxEventBytes
        self.defaultEnvironment = defaultEnvironment.map(JSONStringEscaping.escapedContent)
        self.redactor = redactor
    }

    /// `receivedAt` is the already-formatted ISO 8601 UTC receive time, e.g. "2026-11-27T03:18:53.123Z".
    /// `envelopeOnly`: the body of `POST /v1/ingest`, which must be `{"events":[...]}` as Moda's API wants.
    /// A valid line's events are appended to `lines` as one line; a refused one leaves `lines` as it was.
    public func prepare(
        line: UnsafeRawBufferPointer,
        receivedAt: String,
        envelopeOnly: Bool = false,
        into lines: inout PreparedLines
    ) -> LineRejection? {
        if let offset = UTF8Validation.firstInvalidOffset(in: line) {
            return LineRejection(message: "invalid UTF-8 at byte \(offset): send the line as UTF-8 encoded text")
        }
        switch parse(line) {
        case .syntaxError(let error):
            return LineRejection(message: error.message)
        case .notAnObject:
            return LineRejection(message: "line must be a JSON object: one event, or an envelope {\"events\":[...]}")
        case .bareEvent(let record, let faults):
            if envelopeOnly {
                return LineRejection(
                    message: "the body must be an object with an \"events\" array, as for Moda's POST /v1/ingest"
                )
            }
            guard let record else {
                return store(EmptyCollection(), environment: nil, faults: faults, line, receivedAt, into: &lines)
            }
            return store(CollectionOfOne(record), environment: nil, faults: faults, line, receivedAt, into: &lines)
        case .envelope(let records, let environment, let faults):
            return store(records, environment: environment, faults: faults, line, receivedAt, into: &lines)
        }
    }

    /// One line's events as values of their own (tests, `modactl redact`'s trial).
    public func prepare(
        line: UnsafeRawBufferPointer,
        receivedAt: String,
        envelopeOnly: Bool = false
    ) -> Result<[PreparedEvent], LineRejection> {
        var lines = PreparedLines()
        if let rejection = prepare(line: line, receivedAt: receivedAt, envelopeOnly: envelopeOnly, into: &lines) {
            return .failure(rejection)
        }
        return .success(lines.lines.first ?? [])
    }

    public func prepare(line: [UInt8], receivedAt: String) -> Result<[PreparedEvent], LineRejection> {
        line.withUnsafeBytes { prepare(line: $0, receivedAt: receivedAt) }
    }

    /// Walks the line with its field slots in stack memory.
    private func parse(_ line: UnsafeRawBufferPointer) -> ParsedLine {
        withUnsafeTemporaryAllocation(of: FieldSlot.self, capacity: EventField.count) { eventSlots in
            withUnsafeTemporaryAllocation(of: FieldSlot.self, capacity: LineParser.nestedSlotCount) { nestedSlots in
                // FieldSlot is trivial, so the buffers need no deinitialization.
                eventSlots.initialize(repeating: .absent)
                nestedSlots.initialize(repeating: .absent)
                var parser = LineParser(bytes: line, eventSlots: eventSlots, nestedSlots: nestedSlots)
                return parser.parse()
            }
        }
    }

    /// Adds size faults, then appends the stored bodies as one line if the line has no fault at all.
    private func store<Records: Collection<EventRecord>>(
        _ records: Records,
        environment envelopeEnvironment: JSONToken?,
        faults: [String],
        _ line: UnsafeRawBufferPointer,
        _ receivedAt: String,
        into lines: inout PreparedLines
    ) -> LineRejection? {
        JSONStringEscaping.withEscapedContent(of: receivedAt) { timestamp in
            withEnvironment(envelopeEnvironment, in: line) { environment in
                let values = StoredBodyWriter.Values(timestamp: timestamp, environment: environment)
                var faults = faults
                var tooLarge = false
                for record in records {
                    let size = StoredBodyWriter.length(of: record, values: values)
                    if size > maxEventBytes {
                        tooLarge = true
                        let prefix = FaultPath(eventIndex: record.eventIndex).eventPrefix
                        faults.append(
                            "\(prefix)event is \(size) bytes, over batch.maxEventBytes (\(maxEventBytes)): "
                                + "split it or raise the limit"
                        )
                    }
                }
                guard faults.isEmpty else {
                    return LineRejection(message: faults.joined(separator: "; "), isTooLarge: tooLarge)
                }
                if let redactor, let rules = redactor.rules {
                    return redacted(records, redactor: redactor, rules: rules, line, values, into: &lines)
                }
                for record in records {
                    lines.appendEvent(size: StoredBodyWriter.length(of: record, values: values)) {
                        StoredBodyWriter.append(record, in: line, values: values, to: &$0)
                    }
                }
                lines.endLine()
                return nil
            }
        }
    }

    /// The stored bodies with their findings replaced. A replacement can make an event longer: over
    /// `maxEventBytes` it is refused as too large, like any other.
    private func redacted<Records: Collection<EventRecord>>(
        _ records: Records,
        redactor: Redactor,
        rules: RedactionRules,
        _ line: UnsafeRawBufferPointer,
        _ values: StoredBodyWriter.Values,
        into lines: inout PreparedLines
    ) -> LineRejection? {
        var faults: [String] = []
        for record in records {
            let body = redactor.redact(event: StoredBodyWriter.body(of: record, in: line, values: values), rules: rules)
            if body.count > maxEventBytes {
                faults.append(
                    "\(FaultPath(eventIndex: record.eventIndex).eventPrefix)event is \(body.count) bytes once redacted, "
                        + "over batch.maxEventBytes (\(maxEventBytes)): split it or raise the limit"
                )
            }
            if faults.isEmpty { lines.appendEvent(size: body.count) { $0.append(contentsOf: body) } }
        }
        guard faults.isEmpty else {
            lines.dropUnfinishedLine()
            return LineRejection(message: faults.joined(separator: "; "), isTooLarge: true)
        }
        lines.endLine()
        return nil
    }

    /// The environment events without one get, as JSON string content: the envelope's, else the configured one.
    private func withEnvironment<R>(
        _ envelopeEnvironment: JSONToken?,
        in line: UnsafeRawBufferPointer,
        _ body: (UnsafeRawBufferPointer?) -> R
    ) -> R {
        if let envelopeEnvironment {
            // The envelope's string token is already valid JSON string content.
            return body(UnsafeRawBufferPointer(rebasing: line[envelopeEnvironment.stringContent]))
        }
        guard let defaultEnvironment else { return body(nil) }
        return defaultEnvironment.withUnsafeBytes { body($0) }
    }
}

/// One event ready for the queue: the JSON the client sent, completed with the receive time and environment.
public struct PreparedEvent: Sendable, Equatable {
    /// The event's JSON exactly as it arrived (its original bytes/whitespace, unknown fields kept),
    /// plus `"timestamp"` and/or `"environment"` members inserted when absent.
    public var body: [UInt8]
    /// The delivery lane's key (`ConversationKey`), worked out here on the connection's thread and
    /// stored beside the body, so delivery never parses a stored body to sort it.
    public var conversation: UInt64

    public init(body: [UInt8]) {
        self.body = body
        self.conversation = ConversationKey.of(event: body)
    }

    init(body: [UInt8], conversation: UInt64) {
        self.body = body
        self.conversation = conversation
    }
}
