/// A quick look over a whole stored body for anything a detector could start from: an `@`, a run of digits
/// long enough, a key prefix, a `\u` escape (which can spell any character). Most events have none and are
/// stored without being walked. It only needs to be a superset of what the detectors find, so it ignores
/// boundaries and JSON structure.
///
/// Hand-written rather than a Vectorscan database: Debian's Vectorscan 5.4.9 misses matches past the
/// first ~64 bytes in multi-literal databases on this machine's AVX-512 CPU (see docs/redaction.md), and a
/// byte loop over a ~330-byte event costs a few hundred nanoseconds.
struct RedactionPrefilter: Sendable {
    private static let digit: UInt8 = 1
    private static let separator: UInt8 = 2
    private static let at: UInt8 = 4
    private static let secretStart: UInt8 = 8
    private static let backslash: UInt8 = 16
    private static let other: UInt8 = 32

    private let table: [UInt8]
    /// Digits in one run (single separators between them allowed) that could be a finding.
    private let minDigits: Int
    private let secrets: Bool
    private let iban: Bool

    init(detectors: [BuiltInDetector]) {
        var table = [UInt8](repeating: 0, count: 256)
        var minDigits = Int.max
        for byte in UInt8(ascii: "0")...UInt8(ascii: "9") { table[Int(byte)] = Self.digit }
        table[Int(UInt8(ascii: "\\"))] = Self.backslash
        func separators(_ text: String) { for byte in text.utf8 { table[Int(byte)] |= Self.separator } }
        for detector in detectors {
            switch detector {
            case .paymentCard:
                minDigits = min(minDigits, 13)
                separators(" -")
            case .phone:
                minDigits = min(minDigits, 8)
                separators(" -.()+")
            case .usSSN:
                minDigits = min(minDigits, 9)
                separators("-")
            case .ipAddress:
                minDigits = min(minDigits, 4)
                separators(".")
                table[Int(UInt8(ascii: ":"))] |= Self.other
            case .email:
                table[Int(UInt8(ascii: "@"))] |= Self.at
            case .iban:
                for byte in UInt8(ascii: "A")...UInt8(ascii: "Z") { table[Int(byte)] |= Self.other }
            case .secrets:
                for byte in "srAgxebB-".utf8 { table[Int(byte)] |= Self.secretStart }
            }
        }
        self.table = table
        self.minDigits = minDigits
        self.secrets = detectors.contains(.secrets)
        self.iban = detectors.contains(.iban)
    }

    func mayMatch(_ body: UnsafeRawBufferPointer) -> Bool {
        table.withUnsafeBufferPointer { table in
            var run = 0
            var index = 0
            let count = body.count
            while index < count {
                let byte = body[index]
                let kind = table[Int(byte)]
                index += 1
                if kind == 0 {
                    run = 0
                    continue
                }
                if kind & Self.digit != 0 {
                    run += 1
                    if run >= minDigits { return true }
                    continue
                }
                if kind & Self.separator != 0, run > 0, index < count, TextByte.isDigit(body[index]) { continue }
                run = 0
                if kind & (Self.at | Self.other) != 0 {
                    if kind & Self.at != 0 { return true }
                    if byte == UInt8(ascii: ":") { return true }
                    if iban, TextByte.isUpper(byte), index + 2 < count, TextByte.isUpper(body[index]),
                        TextByte.isDigit(body[index + 1]), TextByte.isDigit(body[index + 2])
                    {
                        return true
                    }
                }
                if kind & Self.backslash != 0, index < count, body[index] == UInt8(ascii: "u") { return true }
                if secrets, kind & Self.secretStart != 0, Self.secretPrefix(body, at: index - 1) { return true }
            }
            return false
        }
    }

    private static func secretPrefix(_ body: UnsafeRawBufferPointer, at start: Int) -> Bool {
        switch body[start] {
        case UInt8(ascii: "s"): return body.has("sk-", at: start) || body.has("sk_live_", at: start)
        case UInt8(ascii: "r"): return body.has("rk_live_", at: start)
        case UInt8(ascii: "A"):
            return body.has("AKIA", at: start) || body.has("ASIA", at: start) || body.has("AIza", at: start)
        case UInt8(ascii: "g"):
            return body.has("github_pat_", at: start)
                || body.has("gh", at: start) && body.byte(at: start + 3, { $0 == TextByte.underscore })
        case UInt8(ascii: "x"): return body.has("xox", at: start)
        case UInt8(ascii: "e"): return body.has("eyJ", at: start)
        case UInt8(ascii: "b"), UInt8(ascii: "B"): return body.has("earer", at: start + 1)
        case UInt8(ascii: "-"): return body.has("-----BEGIN", at: start)
        default: return false
        }
    }
}
