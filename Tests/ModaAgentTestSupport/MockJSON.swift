import Foundation

/// A parsed JSON value, `Sendable` so recorded requests can be read from any task.
///
/// Literals make comparisons short: `#expect(request.field("role", ofEvent: 0) == "user")`.
/// Numbers are `Double`, as in JavaScript and the Moda API.
public enum MockJSON: Sendable, Equatable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([MockJSON])
    case object([String: MockJSON])

    /// The value of a JSON text, or nil when it is not valid JSON.
    public static func parse(_ bytes: some Collection<UInt8>) -> MockJSON? {
        try? JSONDecoder().decode(MockJSON.self, from: Data(bytes))
    }

    public static func parse(_ text: String) -> MockJSON? {
        parse(Array(text.utf8))
    }

    /// The member `key` of an object; nil for a missing key or a non-object.
    public subscript(key: String) -> MockJSON? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    /// The element `index` of an array; nil when out of range or not an array.
    public subscript(index: Int) -> MockJSON? {
        if case .array(let elements) = self, elements.indices.contains(index) { return elements[index] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var doubleValue: Double? {
        if case .number(let value) = self { return value }
        return nil
    }

    public var intValue: Int? {
        guard let value = doubleValue, value.rounded() == value, abs(value) < 9e15 else { return nil }
        return Int(value)
    }

    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    public var arrayValue: [MockJSON]? {
        if case .array(let value) = self { return value }
        return nil
    }

    public var objectValue: [String: MockJSON]? {
        if case .object(let value) = self { return value }
        return nil
    }
}

extension MockJSON: Decodable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([MockJSON].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: MockJSON].self))
        }
    }
}

extension MockJSON: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}
