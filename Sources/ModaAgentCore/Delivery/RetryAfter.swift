/// Reads a `Retry-After` header as a number of seconds.
///
/// Accepts delay-seconds (RFC 9110) and, leniently, decimal seconds (`1.5`). The HTTP-date form
/// and anything else yield nil: the caller then falls back to its own backoff, which is always
/// safe, rather than guessing at a clock it does not share with the server.
public enum RetryAfter {
    public static func seconds(from header: String?) -> Double? {
        guard let header else { return nil }
        let text = header.trimmingSpaces()
        guard isDecimal(text.utf8), let value = Double(text), value.isFinite, value >= 0 else { return nil }
        return value
    }

    /// `DIGIT+ ("." DIGIT+)?` — no sign, exponent, `inf` or `nan`, which `Double(_:)` would accept.
    private static func isDecimal(_ bytes: String.UTF8View) -> Bool {
        var digitsBefore = 0
        var digitsAfter = 0
        var sawDot = false
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if sawDot { digitsAfter += 1 } else { digitsBefore += 1 }
            case UInt8(ascii: ".") where !sawDot:
                sawDot = true
            default:
                return false
            }
        }
        return digitsBefore > 0 && (!sawDot || digitsAfter > 0)
    }
}

extension String {
    /// Without leading and trailing spaces and tabs (HTTP optional whitespace).
    fileprivate func trimmingSpaces() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let start = firstIndex(where: { !isSpace($0) }), let end = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[start...end])
    }
}
