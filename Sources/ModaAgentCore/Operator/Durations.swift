/// Durations and sizes as operators type and read them.
public enum Durations {
    /// `30s`, `15m`, `12h`, `7d` (also a plain number of seconds) → seconds; nil when malformed.
    public static func parse(_ text: String) -> Double? {
        guard let last = text.last else { return nil }
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604_800]
        if let unit = units[last], let value = Double(text.dropLast()), value >= 0 { return value * unit }
        if let value = Double(text), value >= 0 { return value }
        return nil
    }

    /// `4.2s`, `3min 5s`, `2h 10min`, `3 days 4h`.
    public static func human(_ seconds: Double) -> String {
        if seconds < 60 { return seconds < 10 ? "\((seconds * 10).rounded() / 10)s" : "\(Int(seconds))s" }
        let total = Int(seconds)
        if total < 3600 { return "\(total / 60)min \(total % 60)s" }
        if total < 86400 { return "\(total / 3600)h \(total % 3600 / 60)min" }
        return "\(total / 86400) days \(total % 86400 / 3600)h"
    }

    /// Seconds for a log field, to the millisecond: `0.825`, `12`, never `0.8251261209514006`.
    public static func seconds(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "\(seconds)" }
        let milliseconds = (seconds * 1000).rounded()
        if milliseconds.magnitude < 1e15, milliseconds.truncatingRemainder(dividingBy: 1000) == 0 {
            return String(Int64(milliseconds / 1000))
        }
        return "\(milliseconds / 1000)"
    }

    public static func bytes(_ count: Int) -> String {
        if count < 1024 { return "\(count) B" }
        if count < 1 << 20 { return "\((Double(count) / 1024 * 10).rounded() / 10) KiB" }
        if count < 1 << 30 { return "\((Double(count) / 1_048_576 * 10).rounded() / 10) MiB" }
        return "\((Double(count) / 1_073_741_824 * 10).rounded() / 10) GiB"
    }
}
