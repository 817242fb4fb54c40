import Atomics
import CoreMetrics
import NIOConcurrencyHelpers

/// Redaction as the ingest paths see it: the rules in force (swapped whole on SIGHUP) and the counts of what
/// they found. Events are redacted where they are prepared (`EventValidator`), trace exports where they are
/// accepted; what reaches the queue is already redacted, so the original text is never written.
public final class Redactor: Sendable {
    private let current: NIOLockedValueBox<RedactionRules?>
    public let counts = RedactionCounts()

    public init(rules: RedactionRules?) {
        current = NIOLockedValueBox(rules)
    }

    /// From the config's `redaction` section; nil rules when it names no detector and no pattern.
    public convenience init(settings: AgentConfig.Redaction, configPath: String = "config") throws(ConfigError) {
        self.init(rules: settings.isEnabled ? try RedactionRules(settings: settings, configPath: configPath) : nil)
    }

    public var rules: RedactionRules? { current.withLockedValue { $0 } }

    /// SIGHUP: new rules for the lines read from now on.
    public func reload(_ settings: AgentConfig.Redaction, configPath: String) throws(ConfigError) {
        let fresh = settings.isEnabled ? try RedactionRules(settings: settings, configPath: configPath) : nil
        current.withLockedValue { $0 = fresh }
    }

    /// A stored event body with its findings replaced (the same array when there are none).
    public func redact(event body: [UInt8]) -> [UInt8] {
        guard let rules else { return body }
        return redact(event: body, rules: rules)
    }

    func redact(event body: [UInt8], rules: RedactionRules) -> [UInt8] {
        var tally = RedactionTally()
        let redacted = body.withUnsafeBytes { bytes -> [UInt8]? in
            guard rules.mayMatch(bytes) else { return nil }
            return EventRedaction.redact(bytes, rules: rules, tally: &tally)
        }
        guard let redacted else { return body }
        counts.record(tally, labels: rules.labels)
        return redacted
    }

    /// An OTLP trace export with its span and span event attribute strings redacted; the same bytes when
    /// nothing was found.
    public func redact(traceExport body: [UInt8], encoding: OTLPEncoding) -> [UInt8] {
        guard let rules else { return body }
        var tally = RedactionTally()
        let redacted = body.withUnsafeBytes { bytes -> [UInt8]? in
            guard rules.mayMatch(bytes) else { return nil }
            switch encoding {
            case .protobuf: return OTLPProtobufRedaction.redact(bytes, rules: rules, tally: &tally)
            case .json: return OTLPJSONRedaction.redact(bytes, rules: rules, tally: &tally)
            }
        }
        guard let redacted else { return body }
        counts.record(tally, labels: rules.labels)
        return redacted
    }
}

/// What redaction found since the daemon started: `moda_agent_redactions_total{detector}` and
/// `moda_agent_redacted_events_total`, and the same numbers for `modactl status`.
public final class RedactionCounts: Sendable {
    private let findings = NIOLockedValueBox<[String: Int]>([:])
    public let redactedEvents = ManagedAtomic<Int>(0)

    func record(_ tally: RedactionTally, labels: [String]) {
        guard !tally.isEmpty else { return }
        redactedEvents.wrappingIncrement(ordering: .relaxed)
        // Instruments made here, not when the Redactor is (before the daemon bootstraps its metrics backend).
        Counter(label: "moda_agent_redacted_events_total").increment()
        for (label, count) in tally.counts.enumerated() where count > 0 {
            findings.withLockedValue { $0[labels[label], default: 0] += count }
            Counter(label: "moda_agent_redactions_total", dimensions: [("detector", labels[label])])
                .increment(by: Int64(count))
        }
    }

    /// Findings per detector or pattern name.
    public var perDetector: [String: Int] { findings.withLockedValue { $0 } }
}
