/// How a row's figures are printed.
enum Unit {
    case eventsPerSecond
    case requestsPerSecond
    case milliseconds
    case microseconds
    case seconds
    case mebibytes
    case kibibytes

    var label: String {
        switch self {
        case .eventsPerSecond: "events/s"
        case .requestsPerSecond: "requests/s"
        case .milliseconds: "ms"
        case .microseconds: "µs"
        case .seconds: "s"
        case .mebibytes: "MiB"
        case .kibibytes: "KiB"
        }
    }

    func format(_ value: Double) -> String {
        switch self {
        case .eventsPerSecond, .requestsPerSecond:
            if value >= 1_000_000 { return Self.fixed(value / 1_000_000, 2) + "M" }
            if value >= 1_000 { return Self.fixed(value / 1_000, 1) + "k" }
            return Self.fixed(value, 0)
        case .milliseconds: return Self.fixed(value, value < 10 ? 2 : 1)
        case .microseconds, .seconds, .mebibytes: return Self.fixed(value, 1)
        case .kibibytes: return Self.fixed(value, 0)
        }
    }

    /// An event count as a label: 1M, 500k, 1234.
    static func count(_ events: Int) -> String {
        if events % 1_000_000 == 0 { return "\(events / 1_000_000)M" }
        if events % 1_000 == 0 { return "\(events / 1_000)k" }
        return String(events)
    }

    /// `value` with `digits` decimals, without Foundation's locale-dependent formatting.
    static func fixed(_ value: Double, _ digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        let whole = Int(scaled / scale)
        let fraction = Int(scaled - Double(whole) * scale)
        var text = (value < 0 && scaled > 0 ? "-" : "") + String(whole)
        if digits > 0 {
            let digitsText = String(fraction)
            text += "." + String(repeating: "0", count: digits - digitsText.count) + digitsText
        }
        return text
    }
}
