import CSystemd
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A swift-log handler that writes each record to journald natively (`sd_journal_sendv`), so metadata becomes
/// structured, queryable fields: `journalctl -u moda-agent DELIVERY_STATUS=503`.
///
/// Metadata keys become journald field names (`eventCount` → `EVENT_COUNT`, `delivery.status` →
/// `DELIVERY_STATUS`); see ``fieldName(forMetadataKey:)``. Without a journald (e.g. in a container) libsystemd
/// drops the record silently, which is why ``LoggingSetup`` only picks this handler when stderr is the journal.
public struct JournalLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    /// The logger's label, kept as the `LOGGER=` field to tell subsystems apart.
    public let label: String
    /// `SYSLOG_IDENTIFIER=`, what `journalctl -t` and the log prefix show.
    public let identifier: String

    public init(
        label: String,
        logLevel: Logger.Level = .info,
        identifier: String = "moda-agent",
        metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider
    ) {
        self.label = label
        self.logLevel = logLevel
        self.identifier = identifier
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        Self.send(self.fields(for: event))
    }

    /// The `NAME=value` fields for one record: handler metadata, then the provider's, then the call site's, later
    /// ones winning on equal keys (swift-log's usual precedence).
    func fields(for event: LogEvent) -> [String] {
        var merged = self.metadata
        if let provided = self.metadataProvider?.get() {
            merged.merge(provided) { _, new in new }
        }
        if let explicit = event.metadata {
            merged.merge(explicit) { _, new in new }
        }
        var fields = [
            "MESSAGE=\(event.message)",
            "PRIORITY=\(Self.priority(for: event.level))",
            "SYSLOG_IDENTIFIER=\(self.identifier)",
            "LOGGER=\(self.label)",
            "CODE_FILE=\(event.file)",
            "CODE_LINE=\(event.line)",
            "CODE_FUNC=\(event.function)",
        ]
        if let error = event.error {
            fields.append("ERROR=\(error)")
        }
        // Sorted so that a record's fields come out the same way every time (readable, and testable).
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            fields.append("\(Self.fieldName(forMetadataKey: key))=\(value)")
        }
        return fields
    }

    /// syslog(3) priorities as journald stores them; swift-log has no `alert`/`emergency`, so `critical` is the top.
    static func priority(for level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    /// Fields the handler sets itself; metadata may not shadow them (a second `PRIORITY=` would confuse readers).
    static let reservedFieldNames: Set<String> = [
        "MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "LOGGER", "CODE_FILE", "CODE_LINE", "CODE_FUNC",
    ]

    /// Turns a metadata key into a valid journald field name: `A–Z`, `0–9` and `_` only, not starting with `_`
    /// (reserved for trusted fields journald adds) or a digit, at most 64 characters.
    ///
    /// camelCase boundaries become `_` (`eventCount` → `EVENT_COUNT`), any other character becomes `_`, runs of
    /// `_` collapse. Names that would be empty, start with a digit or clash with ``reservedFieldNames`` get a
    /// `META_` prefix so that nothing is lost or silently merged.
    static func fieldName(forMetadataKey key: String) -> String {
        var name = ""
        var previous: Unicode.Scalar?
        for scalar in key.unicodeScalars {
            let isUpper = scalar >= "A" && scalar <= "Z"
            let isLower = scalar >= "a" && scalar <= "z"
            let isDigit = scalar >= "0" && scalar <= "9"
            if isUpper, let previous, (previous >= "a" && previous <= "z") || (previous >= "0" && previous <= "9") {
                name.append("_")
            }
            if isUpper || isDigit {
                name.unicodeScalars.append(scalar)
            } else if isLower {
                name.unicodeScalars.append(Unicode.Scalar(scalar.value - 0x20) ?? "_")
            } else if !name.hasSuffix("_") {
                name.append("_")
            }
            previous = scalar
        }
        while name.hasPrefix("_") { name.removeFirst() }
        while name.hasSuffix("_") { name.removeLast() }
        if name.isEmpty || name.first?.isNumber == true || Self.reservedFieldNames.contains(name) {
            name = name.isEmpty ? "META" : "META_" + name
        }
        return String(name.prefix(64))
    }

    /// One `sd_journal_sendv` call with one iovec per field, all pointing into a single buffer.
    private static func send(_ fields: [String]) {
        var buffer: [UInt8] = []
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(fields.count)
        for field in fields {
            let start = buffer.count
            buffer.append(contentsOf: field.utf8)
            ranges.append(start..<buffer.count)
        }
        buffer.withUnsafeMutableBytes { bytes in
            guard let base = bytes.baseAddress else { return }
            var vectors = ranges.map { iovec(iov_base: base + $0.lowerBound, iov_len: $0.count) }
            // The result is deliberately ignored: there is nowhere left to report a failed log write, and without
            // a journald the call "succeeds" anyway.
            _ = moda_sd_journal_sendv(&vectors, CInt(vectors.count))
        }
    }
}
