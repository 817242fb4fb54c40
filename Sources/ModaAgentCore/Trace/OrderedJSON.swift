/// A JSON object written as one line with its keys in the order given: the records `modactl tail
/// --json` and `trace --json` print, which scripts and people read alike.
public struct OrderedJSON: Sendable {
    public var fields: [(String, JSONValue)] = []

    public init() {}

    public mutating func add(_ key: String, _ value: JSONValue) {
        fields.append((key, value))
    }

    /// Adds the field only when it has a value.
    public mutating func add(_ key: String, ifPresent value: JSONValue?) {
        if let value, value != .null { fields.append((key, value)) }
    }

    public var line: String {
        var out = "{"
        for (index, (key, value)) in fields.enumerated() {
            if index > 0 { out += "," }
            out += JSONText.quoted(key) + ":"
            Self.write(value, to: &out)
        }
        return out + "}"
    }

    public var value: JSONValue {
        .object(Dictionary(fields, uniquingKeysWith: { _, last in last }))
    }

    static func write(_ value: JSONValue, to out: inout String) {
        switch value {
        case .null: out += "null"
        case .bool(let flag): out += flag ? "true" : "false"
        case .int(let number): out += String(number)
        case .double(let number):
            out +=
                number.isFinite
                ? (number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : String(number)) : "null"
        case .string(let text): out += JSONText.quoted(text)
        case .array(let items):
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += "," }
                write(item, to: &out)
            }
            out += "]"
        case .object(let object):
            out += "{"
            for (index, key) in object.keys.sorted().enumerated() {
                if index > 0 { out += "," }
                out += JSONText.quoted(key) + ":"
                write(object[key] ?? .null, to: &out)
            }
            out += "}"
        }
    }
}
