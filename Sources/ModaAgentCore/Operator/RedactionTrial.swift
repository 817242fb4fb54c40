/// `modactl redact`: JSON lines put through the same preparation the daemon gives them (validation, the
/// stamps, redaction under the config's rules), to see what would be stored before turning rules on.
public struct RedactionTrial {
    public struct Summary: Sendable, Equatable {
        public var lines = 0
        public var events = 0
        public var redactedEvents = 0
        public var rejectedLines = 0
        /// Findings per detector or pattern name.
        public var findings: [String: Int] = [:]
    }

    private let validator: EventValidator
    private let redactor: Redactor
    public private(set) var summary = Summary()

    public init(config: AgentConfig, configPath: String) throws(ConfigError) {
        redactor = try Redactor(settings: config.redaction, configPath: configPath)
        validator = EventValidator(
            maxEventBytes: config.batch.maxEventBytes,
            defaultEnvironment: config.environment,
            redactor: redactor
        )
    }

    /// One input line: the stored bodies (one per event), or the error a client would get.
    public mutating func run(
        line: [UInt8],
        number: Int,
        receivedAt: String = Timestamp.iso8601(Timestamp.now())
    )
        -> Result<[[UInt8]], LineRejection>
    {
        var trimmed = line[...]
        while let last = trimmed.last, last == 0x0D || last == 0x20 || last == 0x09 { trimmed.removeLast() }
        guard trimmed.contains(where: { $0 != 0x20 && $0 != 0x09 }) else { return .success([]) }
        summary.lines += 1
        let before = redactor.counts.redactedEvents.load(ordering: .relaxed)
        switch validator.prepare(line: Array(trimmed), receivedAt: receivedAt) {
        case .success(let events):
            summary.events += events.count
            summary.redactedEvents += redactor.counts.redactedEvents.load(ordering: .relaxed) - before
            summary.findings = redactor.counts.perDetector
            return .success(events.map(\.body))
        case .failure(let rejection):
            summary.rejectedLines += 1
            summary.findings = redactor.counts.perDetector
            return .failure(
                LineRejection(message: "line \(number): \(rejection.message)", isTooLarge: rejection.isTooLarge)
            )
        }
    }

    /// The findings report for standard error.
    public var report: String {
        var lines = [
            "\(summary.lines) \(summary.lines == 1 ? "line" : "lines"), \(summary.events) "
                + "\(summary.events == 1 ? "event" : "events"): \(summary.redactedEvents) redacted, "
                + "\(summary.rejectedLines) rejected"
        ]
        if redactor.rules == nil {
            lines.append("redaction is off: the config names no redaction.detectors and no redaction.patterns")
        }
        for (name, count) in summary.findings.sorted(by: { $0.key < $1.key }) {
            lines.append("  \(name.padding(toLength: 14)) \(count)")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension String {
    fileprivate func padding(toLength length: Int) -> String {
        count >= length ? self : self + String(repeating: " ", count: length - count)
    }
}
