import Crypto

/// One configuration of redaction, ready to run: the detectors, the operator's patterns compiled, the action
/// and its key. Immutable; a SIGHUP builds a new one (see `Redactor`).
public final class RedactionRules: Sendable {
    /// Names of the findings' labels: the operator's patterns first (they are the most specific), then the
    /// built-in detectors in `BuiltInDetector` order. A lower label wins an overlap.
    public let labels: [String]
    private let detectors: [(detector: BuiltInDetector, label: Int)]
    private let action: AgentConfig.Redaction.Action
    private let key: SymmetricKey?
    /// The operator's patterns, one Vectorscan database each (see `PatternEngine`).
    private let patterns: [PatternEngine]
    /// What the detectors could start from: a body with none of it needs no walk. nil with operator patterns,
    /// which can match anything: then every body is walked.
    private let prefilter: RedactionPrefilter?

    /// Compiles the patterns and reads the key file. `configPath` names the file in errors.
    public init(settings: AgentConfig.Redaction, configPath: String = "config") throws(ConfigError) {
        try Self.checkPatterns(settings.patterns, configPath: configPath)
        var labels = settings.patterns.map(\.name)
        var detectors: [(BuiltInDetector, Int)] = []
        for detector in BuiltInDetector.allCases where settings.detectors.contains(detector) {
            detectors.append((detector, labels.count))
            labels.append(detector.rawValue)
        }
        self.labels = labels
        self.detectors = detectors
        self.action = settings.action
        if settings.action == .hash {
            guard let file = settings.hashKeyFile else {
                throw .invalidValue(
                    path: configPath,
                    key: "redaction.hashKeyFile",
                    reason: "is null; action \"hash\" needs a key file (a random secret, mode 0600)"
                )
            }
            key = try RedactionKey.load(path: file)
        } else {
            key = nil
        }
        var engines: [PatternEngine] = []
        for pattern in settings.patterns {
            do {
                engines.append(try PatternEngine(expression: pattern.regex))
            } catch {
                // Unreachable: checkPatterns compiled each of them above.
                throw .invalidValue(
                    path: configPath,
                    key: "redaction.patterns",
                    reason: "cannot be compiled: \(error.message)"
                )
            }
        }
        patterns = engines
        prefilter = settings.patterns.isEmpty ? RedactionPrefilter(detectors: detectors.map(\.0)) : nil
    }

    /// Each pattern on its own, so a refusal names the pattern at fault.
    static func checkPatterns(_ patterns: [AgentConfig.Redaction.Pattern], configPath: String) throws(ConfigError) {
        for (index, pattern) in patterns.enumerated() {
            do {
                _ = try PatternEngine(expression: pattern.regex)
            } catch {
                let refusal = error.message.hasSuffix(".") ? String(error.message.dropLast()) : error.message
                throw .invalidValue(
                    path: configPath,
                    key: "redaction.patterns[\(index)] (\(pattern.name))",
                    reason: "has a regex Vectorscan refuses, so it cannot run in time linear in the text: "
                        + "\(refusal). Rewrite \(jsonQuoted(pattern.regex)) without back-references or look-around, "
                        + "and so that it cannot match empty text"
                )
            }
        }
    }

    private static func jsonQuoted(_ text: String) -> String {
        "\"" + String(decoding: JSONStringEscaping.escapedContent(text), as: UTF8.self) + "\""
    }

    /// Whether `body` may hold a finding; false means nothing in it would be redacted.
    func mayMatch(_ body: UnsafeRawBufferPointer) -> Bool {
        guard let prefilter else { return true }
        return prefilter.mayMatch(body)
    }

    /// The findings in `text`, in order, none overlapping.
    func findings(in text: UnsafeRawBufferPointer) -> [Finding] {
        guard text.count > 0 else { return [] }
        var all: [Finding] = []
        for (label, pattern) in patterns.enumerated() {
            for match in pattern.matches(text) where match.end > match.start {
                all.append(Finding(start: match.start, end: match.end, label: label))
            }
        }
        for (detector, label) in detectors { detector.scan(text, label: label, into: &all) }
        guard all.count > 1 else { return all }
        all.sort { ($0.label, $0.start) < ($1.label, $1.start) }
        var covered = [Bool](repeating: false, count: text.count)
        var kept: [Finding] = []
        for finding in all where !covered[finding.start..<finding.end].contains(true) {
            for offset in finding.start..<finding.end { covered[offset] = true }
            kept.append(finding)
        }
        kept.sort { $0.start < $1.start }
        return kept
    }

    /// `text` with its findings replaced, or nil when it has none. Counts them into `tally`.
    func redact(_ text: UnsafeRawBufferPointer, tally: inout RedactionTally) -> [UInt8]? {
        let found = findings(in: text)
        guard !found.isEmpty else { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(text.count + 16 * found.count)
        var cursor = 0
        for finding in found {
            output.append(contentsOf: UnsafeRawBufferPointer(rebasing: text[cursor..<finding.start]))
            output.append(
                contentsOf: replacement(
                    UnsafeRawBufferPointer(rebasing: text[finding.start..<finding.end]),
                    label: finding.label
                )
            )
            cursor = finding.end
            tally.add(label: finding.label, of: labels.count)
        }
        output.append(contentsOf: UnsafeRawBufferPointer(rebasing: text[cursor...]))
        return output
    }

    private func replacement(_ match: UnsafeRawBufferPointer, label: Int) -> [UInt8] {
        let name = labels[label]
        guard action == .hash, let key else { return Array("[REDACTED:\(name)]".utf8) }
        let code = HMAC<SHA256>.authenticationCode(for: match, using: key)
        let digits = Array("0123456789abcdef".utf8)
        var token = Array("[\(name):".utf8)
        for byte in code.prefix(8) {
            token.append(digits[Int(byte >> 4)])
            token.append(digits[Int(byte & 0x0F)])
        }
        token.append(UInt8(ascii: "]"))
        return token
    }
}

/// Findings counted per label while one event or export is redacted.
struct RedactionTally: Sendable {
    var counts: [Int] = []

    var isEmpty: Bool { counts.isEmpty }

    mutating func add(label: Int, of labelCount: Int) {
        if counts.isEmpty { counts = [Int](repeating: 0, count: labelCount) }
        counts[label] += 1
    }
}
