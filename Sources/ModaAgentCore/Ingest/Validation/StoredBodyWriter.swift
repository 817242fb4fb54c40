/// Builds the body stored for an event: its original bytes, with `timestamp` / `environment` written over a
/// `null` value or added as new members just before the closing `}`.
enum StoredBodyWriter {
    private static let timestampKey: StaticString = "\"timestamp\":"
    private static let environmentKey: StaticString = "\"environment\":"

    /// The values to fill in, as JSON string content (escaped, without quotes). `environment` is nil when
    /// neither the envelope nor the configuration names one.
    struct Values {
        var timestamp: UnsafeRawBufferPointer
        var environment: UnsafeRawBufferPointer?
    }

    static func length(of record: EventRecord, values: Values) -> Int {
        var length = record.end - record.start
        var needsComma = !record.isEmpty
        func add(_ action: StampAction, _ key: StaticString, _ value: UnsafeRawBufferPointer) {
            switch action {
            case .keep:
                break
            case .replaceNull:
                length += value.count + 2 - 4
            case .insert:
                length += (needsComma ? 1 : 0) + key.utf8CodeUnitCount + value.count + 2
                needsComma = true
            }
        }
        add(record.timestamp, timestampKey, values.timestamp)
        if let environment = values.environment {
            add(record.environment, environmentKey, environment)
        }
        return length
    }

    static func body(of record: EventRecord, in line: UnsafeRawBufferPointer, values: Values) -> [UInt8] {
        var body: [UInt8] = []
        body.reserveCapacity(length(of: record, values: values))
        append(record, in: line, values: values, to: &body)
        return body
    }

    /// Appends the stored body to `output` (a burst's bodies, `PreparedLines`), `length(of:values:)` bytes.
    static func append(_ record: EventRecord, in line: UnsafeRawBufferPointer, values: Values, to output: inout [UInt8]) {
        var cursor = record.start
        // Null values are overwritten in the order they occur in the object.
        typealias Null = (at: Int, value: UnsafeRawBufferPointer)
        var nulls: (first: Null?, second: Null?) = (nil, nil)
        if case .replaceNull(let at) = record.timestamp {
            nulls.first = (at, values.timestamp)
        }
        if let environment = values.environment, case .replaceNull(let at) = record.environment {
            if let first = nulls.first, first.at > at {
                nulls = ((at, environment), first)
            } else if nulls.first == nil {
                nulls.first = (at, environment)
            } else {
                nulls.second = (at, environment)
            }
        }
        func replace(_ null: Null?) {
            guard let null else { return }
            output.appendJSON(line, cursor..<null.at)
            output.appendQuoted(null.value)
            cursor = null.at + 4
        }
        replace(nulls.first)
        replace(nulls.second)
        output.appendJSON(line, cursor..<(record.end - 1))
        var needsComma = !record.isEmpty
        func insert(_ key: StaticString, _ value: UnsafeRawBufferPointer) {
            if needsComma { output.append(JSONByte.comma) }
            output.appendJSON(key)
            output.appendQuoted(value)
            needsComma = true
        }
        if record.timestamp == .insert {
            insert(timestampKey, values.timestamp)
        }
        if let environment = values.environment, record.environment == .insert {
            insert(environmentKey, environment)
        }
        output.append(JSONByte.closeBrace)
    }
}

/// The pieces a stored body is written from, appended in place to the body's array.
extension [UInt8] {
    fileprivate mutating func appendJSON(_ bytes: UnsafeRawBufferPointer) {
        // Typed, so the append is one copy of contiguous memory, not a loop over a sequence.
        append(contentsOf: bytes.assumingMemoryBound(to: UInt8.self))
    }

    fileprivate mutating func appendJSON(_ line: UnsafeRawBufferPointer, _ range: Range<Int>) {
        appendJSON(UnsafeRawBufferPointer(rebasing: line[range]))
    }

    fileprivate mutating func appendJSON(_ text: StaticString) {
        text.withUTF8Buffer { appendJSON(UnsafeRawBufferPointer($0)) }
    }

    fileprivate mutating func appendQuoted(_ content: UnsafeRawBufferPointer) {
        append(JSONByte.quote)
        appendJSON(content)
        append(JSONByte.quote)
    }
}

/// One valid event found in a line: where its object lies and what the stored body must add.
struct EventRecord: Sendable {
    /// Index in the envelope's `events`; nil for a bare event.
    var eventIndex: Int?
    /// Offsets of the event's `{` and just past its `}`.
    var start: Int
    var end: Int
    /// `{}` with no members: an inserted member then needs no leading comma.
    var isEmpty: Bool
    var timestamp: StampAction
    var environment: StampAction
}

/// What the stored body needs for one of the members the agent fills in (`timestamp`, `environment`).
enum StampAction: Sendable, Equatable {
    /// The event has a value of its own.
    case keep
    /// The key is absent: add a member before the closing `}`.
    case insert
    /// The key is present as `null`, whose 4 bytes start at this offset: replace them with the value.
    case replaceNull(at: Int)

    init(_ slot: FieldSlot) {
        switch slot.token.kind {
        case .absent: self = .insert
        case .null: self = .replaceNull(at: slot.token.start)
        default: self = .keep
        }
    }
}

/// Writes Swift strings as JSON string content (without the quotes), for the values the agent inserts.
enum JSONStringEscaping {
    static func escapedContent(_ string: String) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(string.utf8.count)
        for byte in string.utf8 {
            switch byte {
            case JSONByte.quote, JSONByte.backslash:
                result.append(JSONByte.backslash)
                result.append(byte)
            case 0x0A: result.append(contentsOf: [JSONByte.backslash, UInt8(ascii: "n")])
            case 0x0D: result.append(contentsOf: [JSONByte.backslash, UInt8(ascii: "r")])
            case 0x09: result.append(contentsOf: [JSONByte.backslash, UInt8(ascii: "t")])
            case 0x00..<0x20:
                let hex = Array("0123456789ABCDEF".utf8)
                result.append(contentsOf: [
                    JSONByte.backslash, UInt8(ascii: "u"), JSONByte.digitZero, JSONByte.digitZero,
                ])
                result.append(hex[Int(byte >> 4)])
                result.append(hex[Int(byte & 0x0F)])
            default:
                result.append(byte)
            }
        }
        return result
    }

    /// Calls `body` with `string` as JSON string content. A native string that needs no escaping (such as a
    /// formatted timestamp) is passed in place, without allocating.
    static func withEscapedContent<R>(of string: String, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        let inPlace: R?? = string.utf8.withContiguousStorageIfAvailable { utf8 in
            utf8.contains { $0 < 0x20 || $0 == JSONByte.quote || $0 == JSONByte.backslash }
                ? nil : body(UnsafeRawBufferPointer(utf8))
        }
        if let inPlace, let result = inPlace {
            return result
        }
        return escapedContent(string).withUnsafeBytes(body)
    }
}
