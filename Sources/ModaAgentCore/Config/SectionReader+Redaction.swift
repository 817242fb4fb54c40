extension SectionReader {
    /// The `redaction` section (docs/redaction.md). Each pattern is compiled here, so a regex Vectorscan
    /// refuses is a config error naming it, for `--check-config` as for the daemon.
    mutating func readRedaction() throws(ConfigError) -> AgentConfig.Redaction {
        var redaction = AgentConfig.Redaction()
        let known = BuiltInDetector.allCases.map(\.rawValue)
        for (index, value) in try array("detectors").enumerated() {
            guard case .string(let name) = value, let detector = BuiltInDetector(rawValue: name) else {
                throw .invalidValue(
                    path: path,
                    key: "redaction.detectors[\(index)]",
                    reason: "is \(Self.describe(value)); it must be one of \(known.joined(separator: ", "))"
                )
            }
            if !redaction.detectors.contains(detector) { redaction.detectors.append(detector) }
        }
        for (index, value) in try array("patterns").enumerated() {
            var pattern = SectionReader(path: path, prefix: "redaction.patterns[\(index)]", value: value)
            try pattern.requireObject()
            let name = try pattern.string("name", default: "")
            let regex = try pattern.string("regex", default: "")
            try pattern.rejectUnknownKeys()
            guard !name.isEmpty, name.utf8.allSatisfy({ TextByte.isAlnum($0) || $0 == TextByte.underscore }) else {
                throw .invalidValue(
                    path: path,
                    key: "redaction.patterns[\(index)].name",
                    reason: "is \"\(name)\"; name each pattern with letters, digits and _ (it appears in "
                        + "[REDACTED:NAME] and in the metrics)"
                )
            }
            guard !regex.isEmpty else {
                throw .invalidValue(
                    path: path,
                    key: "redaction.patterns[\(index)].regex",
                    reason: "is missing or empty"
                )
            }
            redaction.patterns.append(.init(name: name, regex: regex))
        }
        let action = try choice(
            "action",
            default: redaction.action.rawValue,
            allowed: AgentConfig.Redaction.Action.allCases.map(\.rawValue)
        )
        redaction.action = AgentConfig.Redaction.Action(rawValue: action) ?? .mask
        redaction.hashKeyFile = try optionalString("hashKeyFile")
        if redaction.action == .hash, redaction.hashKeyFile == nil, redaction.isEnabled {
            throw .invalidValue(
                path: path,
                key: "redaction.hashKeyFile",
                reason: "is null; action \"hash\" needs a key file (a random secret, mode 0600)"
            )
        }
        try rejectUnknownKeys()
        try RedactionRules.checkPatterns(redaction.patterns, configPath: path)
        return redaction
    }

    private static func describe(_ value: ConfigValue) -> String {
        if case .string(let text) = value { return "\"\(text)\"" }
        return value.typeName
    }
}
