/// Walks one object of the config file, taking known keys with type and range checks and
/// refusing any key it was not asked for.
struct SectionReader {
    let path: String
    let prefix: String
    private let members: [String: ConfigValue]
    private var taken: [String] = []
    private let isObject: Bool
    private let valueType: String

    init(path: String, prefix: String, value: ConfigValue) {
        self.path = path
        self.prefix = prefix
        if case .object(let members) = value {
            self.members = members
            self.isObject = true
        } else {
            self.members = [:]
            self.isObject = false
        }
        self.valueType = value.typeName
    }

    private func key(_ name: String) -> String { prefix.isEmpty ? name : "\(prefix).\(name)" }

    private func invalid(_ name: String, _ reason: String) -> ConfigError {
        .invalidValue(path: path, key: key(name), reason: reason)
    }

    mutating func requireObject() throws(ConfigError) {
        guard isObject else {
            if prefix.isEmpty {
                throw .malformed(path: path, reason: "the top level must be an object, not \(valueType)")
            }
            throw .invalidValue(path: path, key: prefix, reason: "must be an object, not \(valueType)")
        }
    }

    /// Every member not taken is an unknown key; names are reported in file order is impossible
    /// with a dictionary, so the first in sorted order is reported.
    func rejectUnknownKeys() throws(ConfigError) {
        let unknown = members.keys.filter { !taken.contains($0) }.sorted()
        if let first = unknown.first {
            throw .unknownKey(path: path, key: key(first), known: taken)
        }
    }

    private mutating func take(_ name: String) -> ConfigValue? {
        taken.append(name)
        guard let value = members[name], value != .null else { return nil }
        return value
    }

    mutating func string(_ name: String, default value: String, allowEmpty: Bool = false) throws(ConfigError) -> String
    {
        guard let raw = take(name) else { return value }
        guard case .string(let text) = raw else { throw invalid(name, "must be a string, not \(raw.typeName)") }
        if !allowEmpty && text.isEmpty { throw invalid(name, "must not be empty") }
        return text
    }

    mutating func optionalString(_ name: String) throws(ConfigError) -> String? {
        guard let raw = take(name) else { return nil }
        guard case .string(let text) = raw else { throw invalid(name, "must be a string or null, not \(raw.typeName)") }
        return text
    }

    /// An `http://[user:pass@]host:port` proxy URL, or nil; the error never repeats the credentials.
    mutating func proxyServer(_ name: String) throws(ConfigError) -> ProxyServer? {
        guard let text = try optionalString(name) else { return nil }
        do {
            return try ProxyServer.parse(text, lenient: false)
        } catch {
            throw invalid(name, "\(error.reason) (docs/networks.md)")
        }
    }

    mutating func integer(
        _ name: String,
        default value: Int,
        range: ClosedRange<Int>,
        hint: String = ""
    )
        throws(ConfigError) -> Int
    {
        guard let raw = take(name) else { return value }
        guard case .number(let number) = raw, number.rounded() == number, abs(number) < 1e18 else {
            throw invalid(
                name,
                "must be a whole number, not \(raw.typeName == "a number" ? "a fraction" : raw.typeName)"
            )
        }
        let integer = Int(number)
        guard range.contains(integer) else {
            throw invalid(name, "is \(integer); it must be between \(range.lowerBound) and \(range.upperBound)\(hint)")
        }
        return integer
    }

    mutating func number(
        _ name: String,
        default value: Double,
        minimum: Double,
        exclusive: Bool = false
    )
        throws(ConfigError) -> Double
    {
        guard let raw = take(name) else { return value }
        guard case .number(let number) = raw, number.isFinite else {
            throw invalid(name, "must be a number, not \(raw.typeName)")
        }
        if exclusive ? number <= minimum : number < minimum {
            throw invalid(
                name,
                "is \(number); it must be \(exclusive ? "greater than" : "at least") \(minimum.formattedShort)"
            )
        }
        return number
    }

    mutating func choice(_ name: String, default value: String, allowed: [String]) throws(ConfigError) -> String {
        let text = try string(name, default: value)
        guard allowed.contains(text) else {
            throw invalid(name, "is \"\(text)\"; it must be one of \(allowed.joined(separator: ", "))")
        }
        return text
    }

    /// An array's elements; empty when the key is absent or null.
    mutating func array(_ name: String) throws(ConfigError) -> [ConfigValue] {
        guard let raw = take(name) else { return [] }
        guard case .array(let elements) = raw else { throw invalid(name, "must be an array, not \(raw.typeName)") }
        return elements
    }

    mutating func section(_ name: String) throws(ConfigError) -> SectionReader {
        let raw = take(name) ?? .object([:])
        var reader = SectionReader(path: path, prefix: key(name), value: raw)
        try reader.requireObject()
        return reader
    }
}

extension Double {
    /// `1` rather than `1.0` in messages.
    var formattedShort: String {
        rounded() == self && abs(self) < 1e15 ? String(Int(self)) : String(self)
    }
}
