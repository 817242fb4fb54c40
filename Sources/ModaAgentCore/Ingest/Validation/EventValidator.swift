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
    public func prepare(
        line: UnsafeRawBufferPointer,
        receivedAt: String,
        envelopeOnly: Bool = false
    ) -> Result<[PreparedEvent], LineRejection> {
        if let offset = UTF8Validation.firstInvalidOffset(in: line) {
            return .failure(
                LineRejection(message: "invalid UTF-8 at byte \(offset): send the line as UTF-8 encoded text")
            )
        }
        switch parse(line) {
        case .syntaxError(let error):
            return .failure(LineRejection(message: error.message))
        case .notAnObject:
            return .failure(
                LineRejection(message: "line must be a JSON object: one event, or an envelope {\"events\":[...]}")
            )
        case .bareEvent(let record, let faults):
            if envelopeOnly {
                return .failure(
                    LineRejection(
                        message: "the body must be an object with an \"events\" array, as for Moda's POST /v1/ingest"
                    )
                )
            }
            guard let record else {
                return store(EmptyCollection(), environment: nil, faults: faults, line, receivedAt)
            }
            return store(CollectionOfOne(record), environment: nil, faults: faults, line, receivedAt)
        case .envelope(let records, let environment, let faults):
            return store(records, environment: environment, faults: faults, line, receivedAt)
        }
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

    /// Adds size faults, then builds the stored bodies if the line has no fault at all.
    private func store<Records: Collection<EventRecord>>(
        _ records: Records,
        environment envelopeEnvironment: JSONToken?,
        faults: [String],
        _ line: UnsafeRawBufferPointer,
        _ receivedAt: String
    ) -> Result<[PreparedEvent], LineRejection> {
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
                    return .failure(LineRejection(message: faults.joined(separator: "; "), isTooLarge: tooLarge))
                }
                if let redactor, let rules = redactor.rules {
                    return redacted(records, redactor: redactor, rules: rules, line, values)
                }
                var events: [PreparedEvent] = []
                events.reserveCapacity(records.count)
                for record in records {
                    events.append(PreparedEvent(body: StoredBodyWriter.body(of: record, in: line, values: values)))
                }
                return .success(events)
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
        _ values: StoredBodyWriter.Values
    ) -> Result<[PreparedEvent], LineRejection> {
        var events: [PreparedEvent] = []
        events.reserveCapacity(records.count)
        var faults: [String] = []
        for record in records {
            let body = redactor.redact(event: StoredBodyWriter.body(of: record, in: line, values: values), rules: rules)
            if body.count > maxEventBytes {
                faults.append(
                    "\(FaultPath(eventIndex: record.eventIndex).eventPrefix)event is \(body.count) bytes once redacted, "
                        + "over batch.maxEventBytes (\(maxEventBytes)): split it or raise the limit"
                )
            }
            events.append(PreparedEvent(body: body))
        }
        guard faults.isEmpty else {
            return .failure(LineRejection(message: faults.joined(separator: "; "), isTooLarge: true))
        }
        return .success(events)
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
}
