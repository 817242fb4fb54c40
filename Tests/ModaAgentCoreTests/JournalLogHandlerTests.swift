import Logging
import Testing

@testable import ModaAgentCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

@Suite
struct JournalLogHandlerTests {
    @Test(arguments: [
        (Logger.Level.trace, 7), (.debug, 7), (.info, 6), (.notice, 5), (.warning, 4), (.error, 3), (.critical, 2),
    ])
    func priority(level: Logger.Level, expected: Int) {
        #expect(JournalLogHandler.priority(for: level) == expected)
    }

    @Test(arguments: [
        ("eventCount", "EVENT_COUNT"),
        ("deliveryStatus", "DELIVERY_STATUS"),
        ("delivery.status", "DELIVERY_STATUS"),
        ("delivery_status", "DELIVERY_STATUS"),
        ("DELIVERY_STATUS", "DELIVERY_STATUS"),
        ("request-id", "REQUEST_ID"),
        ("retry2Count", "RETRY2_COUNT"),
        ("HTTPStatus", "HTTPSTATUS"),
        ("a..b", "A_B"),
        ("_PID", "PID"),
        ("__trusted__", "TRUSTED"),
        ("2xx", "META_2XX"),
        ("", "META"),
        ("...", "META"),
        ("message", "META_MESSAGE"),
        ("priority", "META_PRIORITY"),
        ("syslog_identifier", "META_SYSLOG_IDENTIFIER"),
        ("clé", "CL"),
        ("日本", "META"),
    ])
    func fieldName(key: String, expected: String) {
        #expect(JournalLogHandler.fieldName(forMetadataKey: key) == expected)
    }

    @Test func fieldNamesAreAlwaysValidForJournald() {
        let keys = ["x", "9lives", "_", "a b\tc\n", "émoji🙂key", String(repeating: "abc", count: 40), "Ünïcödé", "A-1"]
        for key in keys {
            let name = JournalLogHandler.fieldName(forMetadataKey: key)
            #expect(isValidJournalFieldName(name), "\(key) → \(name)")
        }
        #expect(JournalLogHandler.fieldName(forMetadataKey: String(repeating: "a", count: 100)).count == 64)
    }

    @Test func fieldsCarryMessagePriorityIdentifierAndMetadata() {
        var handler = JournalLogHandler(label: "moda.delivery", metadataProvider: nil)
        handler[metadataKey: "queue"] = "main"
        let event = LogEvent(
            level: .warning,
            message: "delivery failed, retrying",
            metadata: ["deliveryStatus": "503", "eventCount": .stringConvertible(1000)],
            source: "ModaAgentCore",
            file: "ModaAgentCore/Delivery/Uploader.swift",
            function: "send()",
            line: 42
        )
        let fields = handler.fields(for: event)
        #expect(
            fields == [
                "MESSAGE=delivery failed, retrying",
                "PRIORITY=4",
                "SYSLOG_IDENTIFIER=moda-agent",
                "LOGGER=moda.delivery",
                "CODE_FILE=ModaAgentCore/Delivery/Uploader.swift",
                "CODE_LINE=42",
                "CODE_FUNC=send()",
                "DELIVERY_STATUS=503",
                "EVENT_COUNT=1000",
                "QUEUE=main",
            ]
        )
    }

    @Test func callSiteMetadataWinsOverProviderAndHandler() {
        let provider = Logger.MetadataProvider { ["attempt": "provider", "trace": "t-1"] }
        var handler = JournalLogHandler(label: "l", metadataProvider: provider)
        handler.metadata = ["attempt": "handler", "host": "h"]
        let fields = handler.fields(for: event(metadata: ["attempt": "call"]))
        #expect(fields.filter { $0.hasPrefix("ATTEMPT=") } == ["ATTEMPT=call"])
        #expect(fields.contains("TRACE=t-1"))
        #expect(fields.contains("HOST=h"))
    }

    @Test func metadataCannotOverridePriority() {
        let handler = JournalLogHandler(label: "l", metadataProvider: nil)
        let fields = handler.fields(for: event(level: .error, metadata: ["priority": "7", "message": "m"]))
        #expect(fields.filter { $0.hasPrefix("PRIORITY=") } == ["PRIORITY=3"])
        #expect(fields.contains("META_PRIORITY=7"))
        #expect(fields.contains("META_MESSAGE=m"))
    }

    @Test func structuredValuesAndErrorsAreRendered() {
        struct Boom: Error, CustomStringConvertible { var description: String { "boom" } }
        let handler = JournalLogHandler(label: "l", identifier: "moda-agent-tests", metadataProvider: nil)
        var record = event(metadata: ["ids": ["1", "2"]])
        record.error = Boom()
        let fields = handler.fields(for: record)
        #expect(fields.contains("SYSLOG_IDENTIFIER=moda-agent-tests"))
        #expect(fields.contains(#"IDS=["1", "2"]"#))
        #expect(fields.contains("ERROR=boom"))
    }

    /// The real bytes: bind the journal's socket where none exists (a build machine without systemd as PID 1),
    /// log through swift-log and parse journald's native protocol. sd_journal_sendv's result proves nothing
    /// (it is 0 even when the record is dropped), so this is the only way to see the iovecs are right.
    @Test(.enabled(if: FakeJournal.canRun, "needs root and no running journald"))
    func recordsReachTheJournalSocket() throws {
        let journal = try FakeJournal()
        let marker = "journal-test-\(UInt32.random(in: 0...UInt32.max))"
        let logger = Logger(label: "moda.test") { label in
            JournalLogHandler(label: label, logLevel: .debug, identifier: "moda-agent-tests", metadataProvider: nil)
        }
        logger.error("\(marker)\nsecond line", metadata: ["deliveryStatus": "503", "eventCount": "1000"])

        let fields = try journal.receive(containing: marker)
        #expect(fields["MESSAGE"] == "\(marker)\nsecond line")
        #expect(fields["PRIORITY"] == "3")
        #expect(fields["SYSLOG_IDENTIFIER"] == "moda-agent-tests")
        #expect(fields["DELIVERY_STATUS"] == "503")
        #expect(fields["EVENT_COUNT"] == "1000")
    }

    private func event(level: Logger.Level = .info, metadata: Logger.Metadata?) -> LogEvent {
        LogEvent(level: level, message: "m", metadata: metadata, source: "s", file: "f", function: "g", line: 1)
    }

    private func isValidJournalFieldName(_ name: String) -> Bool {
        guard let first = name.utf8.first, !name.isEmpty, name.utf8.count <= 64 else { return false }
        guard first != UInt8(ascii: "_"), !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else {
            return false
        }
        return name.utf8.allSatisfy { byte in
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: "_")
        }
    }
}

/// A stand-in journald: a datagram socket at /run/systemd/journal/socket, the fixed path libsystemd sends to.
/// Only used where no journald runs, so it never steals real logs; removes what it created.
private final class FakeJournal {
    static let directory = "/run/systemd/journal"
    static let path = "/run/systemd/journal/socket"

    static var canRun: Bool {
        geteuid() == 0 && access("/run/systemd", W_OK) == 0 && access(path, F_OK) != 0
    }

    private let fd: CInt
    private let createdDirectory: Bool

    init() throws {
        self.createdDirectory = mkdir(Self.directory, 0o755) == 0
        self.fd = socket(AF_UNIX, CInt(SOCK_DGRAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        guard self.fd >= 0 else { throw JournalTestError("socket() failed: errno \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(Self.path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(self.fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else { throw JournalTestError("bind(\(Self.path)) failed: errno \(errno)") }
    }

    deinit {
        close(self.fd)
        unlink(Self.path)
        if self.createdDirectory { rmdir(Self.directory) }
    }

    /// The next record whose MESSAGE contains `marker` (other tests may log too), parsed into fields.
    func receive(containing marker: String, timeoutMilliseconds: CInt = 5_000) throws -> [String: String] {
        while true {
            var pollFD = pollfd(fd: self.fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pollFD, 1, timeoutMilliseconds) > 0 else {
                throw JournalTestError("no journal record within \(timeoutMilliseconds) ms")
            }
            var buffer = [UInt8](repeating: 0, count: 65_536)
            let count = buffer.withUnsafeMutableBytes { recv(self.fd, $0.baseAddress, $0.count, 0) }
            guard count >= 0 else { throw JournalTestError("recv failed: errno \(errno)") }
            let fields = try Self.parse(buffer[0..<count])
            if fields["MESSAGE"]?.contains(marker) == true { return fields }
        }
    }

    /// journald's native protocol: `NAME=value\n`, or `NAME\n` + 64-bit little-endian length + value + `\n` for
    /// values containing newlines.
    static func parse(_ bytes: ArraySlice<UInt8>) throws -> [String: String] {
        var fields: [String: String] = [:]
        var index = bytes.startIndex
        while index < bytes.endIndex {
            guard let lineEnd = bytes[index...].firstIndex(of: UInt8(ascii: "\n")) else {
                throw JournalTestError("unterminated field")
            }
            let line = bytes[index..<lineEnd]
            if let equals = line.firstIndex(of: UInt8(ascii: "=")) {
                let name = String(decoding: line[..<equals], as: UTF8.self)
                fields[name] = String(decoding: line[(equals + 1)...], as: UTF8.self)
                index = lineEnd + 1
            } else {
                let name = String(decoding: line, as: UTF8.self)
                let sizeStart = lineEnd + 1
                guard sizeStart + 8 <= bytes.endIndex else { throw JournalTestError("truncated size") }
                let size = bytes[sizeStart..<(sizeStart + 8)].reversed().reduce(0) { ($0 << 8) | Int($1) }
                let valueStart = sizeStart + 8
                guard valueStart + size < bytes.endIndex else { throw JournalTestError("truncated value") }
                fields[name] = String(decoding: bytes[valueStart..<(valueStart + size)], as: UTF8.self)
                index = valueStart + size + 1
            }
        }
        return fields
    }
}

private struct JournalTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
