extension AgentConfig {
    /// The `redaction` section (docs/redaction.md): what is rewritten before anything is stored.
    public struct Redaction: Sendable, Equatable {
        public enum Action: String, Sendable, CaseIterable {
            /// `[REDACTED:NAME]`
            case mask
            /// `[NAME:HEX]`, HEX the first 16 hex digits of HMAC-SHA256 under `hashKeyFile`.
            case hash
        }

        public struct Pattern: Sendable, Equatable {
            public var name: String
            public var regex: String

            public init(name: String, regex: String) {
                self.name = name
                self.regex = regex
            }
        }

        public var detectors: [BuiltInDetector] = []
        public var patterns: [Pattern] = []
        public var action: Action = .mask
        public var hashKeyFile: String? = nil

        public init() {}

        /// Off unless a detector or pattern is named.
        public var isEnabled: Bool { !detectors.isEmpty || !patterns.isEmpty }
    }
}

/// The built-in detectors, in the order overlaps are settled: where findings overlap, the one earlier in
/// this list names it (a card number is `payment_card`, never `phone`; an IPv4 address is `ip_address`).
public enum BuiltInDetector: String, Sendable, CaseIterable {
    case secrets
    case paymentCard = "payment_card"
    case iban
    case usSSN = "us_ssn"
    case ipAddress = "ip_address"
    case email
    case phone

    func scan(_ text: UnsafeRawBufferPointer, label: Int, into findings: inout [Finding]) {
        switch self {
        case .secrets: SecretsDetector.scan(text, label: label, into: &findings)
        case .paymentCard: PaymentCardDetector.scan(text, label: label, into: &findings)
        case .iban: IBANDetector.scan(text, label: label, into: &findings)
        case .usSSN: USSSNDetector.scan(text, label: label, into: &findings)
        case .ipAddress: IPAddressDetector.scan(text, label: label, into: &findings)
        case .email: EmailDetector.scan(text, label: label, into: &findings)
        case .phone: PhoneDetector.scan(text, label: label, into: &findings)
        }
    }

    /// Loose shapes, a superset of what the detector finds, that Vectorscan looks for in a whole stored body
    /// first: a body with none of them (most) is stored without being walked. (expression, caseless)
    var triggers: [(String, Bool)] {
        switch self {
        case .secrets:
            return [
                ("sk-", false), ("sk_live_", false), ("rk_live_", false), ("AKIA", false), ("ASIA", false),
                ("AIza", false), ("gh[pousr]_", false), ("github_pat_", false), ("xox[abpr]-", false),
                ("eyJ", false), ("bearer", true), ("-----BEGIN ", false),
            ]
        case .paymentCard: return [("[0-9](?:[ -]?[0-9]){12}", false)]
        case .iban: return [("[A-Z]{2}[0-9]{2}", false)]
        case .usSSN: return [("[0-9]{3}-[0-9]{2}-[0-9]{4}", false)]
        case .ipAddress:
            return [("[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]", false), (":[0-9A-Fa-f]{0,4}:", false)]
        case .email: return [("@", false)]
        case .phone: return [("[0-9](?:[ ().-]{0,2}[0-9]){7}", false)]
        }
    }
}
