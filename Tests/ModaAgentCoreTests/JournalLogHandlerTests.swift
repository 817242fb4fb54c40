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
    /// log through swift-log and parse journald's native protocol. The handler drops send errors (and a missing
    /// journal is no error), so this is the only way to see the default path and the bytes are right.
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

    /// The binary form, byte for byte: `NAME\n`, the value's length as a little-endian UInt64, the value, `\n`;
    /// and it decodes back to the exact text. Runs anywhere: the stand-in listens in /tmp.
    @Test func valuesWithNewlinesArriveInTheBinaryForm() throws {
        let journal = try FakeJournal(path: FakeJournal.temporaryPath())
        let marker = "journal-test-\(UInt32.random(in: 0...UInt32.max))"
        let message = "\(marker)\nsecond line\n\nthird = with ünïcödé\n"
        self.logger(to: journal).error("\(message)", metadata: ["detail": "a\nb", "plain": "x=y", "empty": ""])

        let record = try journal.receiveRecord(containing: marker)
        #expect(!record.cameAsFile)
        #expect(record.fields["MESSAGE"] == message)
        #expect(record.fields["DETAIL"] == "a\nb")
        #expect(record.fields["PLAIN"] == "x=y")
        #expect(record.fields["EMPTY"] == "")
        #expect(record.fields["PRIORITY"] == "3")
        let length = withUnsafeBytes(of: UInt64(message.utf8.count).littleEndian) { Array($0) }
        let expected = Array("MESSAGE\n".utf8) + length + Array(message.utf8) + Array("\nPRIORITY=3\n".utf8)
        #expect(record.payload.starts(with: expected))
        #expect(record.payload.last == UInt8(ascii: "\n"))
    }

    /// An entry larger than the kernel takes as one datagram (above the send buffer; 300 KiB at the default
    /// 208 KiB) goes as a sealed memfd passed with SCM_RIGHTS in an empty datagram, and decodes back exactly.
    @Test func entriesTooLargeForADatagramArriveAsASealedMemoryFile() throws {
        let journal = try FakeJournal(path: FakeJournal.temporaryPath())
        let marker = "journal-test-\(UInt32.random(in: 0...UInt32.max))"
        let size = max(300 * 1024, try FakeJournal.datagramSendBuffer() + 4096)
        let filler = String(repeating: "0123456789abcdef", count: size / 16)
        let message = "\(marker)\n\(filler)"
        self.logger(to: journal).notice("\(message)", metadata: ["eventCount": "7"])

        let record = try journal.receiveRecord(containing: marker)
        #expect(record.cameAsFile)
        #expect(record.datagramBytes == 0)
        let required =
            SealedMemoryFile.sealShrink | SealedMemoryFile.sealGrow | SealedMemoryFile.sealWrite
            | SealedMemoryFile.sealSeal
        #expect(
            record.seals.map { $0 & required == required } == true,
            "seals \(record.seals.map(String.init) ?? "none")"
        )
        #expect(record.fields["MESSAGE"] == message)
        #expect(record.fields["PRIORITY"] == "5")
        #expect(record.fields["EVENT_COUNT"] == "7")
        #expect(record.fields["SYSLOG_IDENTIFIER"] == "moda-agent-tests")
    }

    @Test func withoutAJournalEntriesAreDroppedQuietly() throws {
        let socket = JournalSocket(path: FakeJournal.temporaryPath())
        #expect(try socket.send(["MESSAGE=nobody listens"]) == .noJournal)
        let large =
            "MESSAGE=" + String(repeating: "x", count: max(300 * 1024, try FakeJournal.datagramSendBuffer() + 4096))
        #expect(try socket.send([large]) == .noJournal)
    }

    @Test(arguments: [
        (["MESSAGE=a"], Array("MESSAGE=a\n".utf8) as [UInt8]?),
        (["MESSAGE="], Array("MESSAGE=\n".utf8)),
        (["A=1", "B==2"], Array("A=1\nB==2\n".utf8)),
        (["M=\n"], Array("M\n".utf8) + [1, 0, 0, 0, 0, 0, 0, 0] + Array("\n\n".utf8)),
        (["NO_EQUALS"], nil),
        (["=value"], nil),
        (["BAD\nNAME=value"], nil),
        ([], nil),
    ])
    func nativeProtocolEncoding(fields: [String], expected: [UInt8]?) throws {
        if let expected {
            #expect(try JournalEntry.encode(fields) == expected)
        } else {
            #expect(throws: SystemdSocketError.self) { try JournalEntry.encode(fields) }
        }
    }

    private func logger(to journal: FakeJournal) -> Logger {
        let socket = JournalSocket(path: journal.path)
        return Logger(label: "moda.test") { label in
            JournalLogHandler(
                label: label,
                logLevel: .debug,
                identifier: "moda-agent-tests",
                metadataProvider: nil,
                journal: socket
            )
        }
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

/// A stand-in journald: a datagram socket at /run/systemd/journal/socket, the fixed path the handler sends to, or
/// at a path of the test's. At the fixed path only where no journald runs, so it never steals real logs; removes
/// what it created.
private final class FakeJournal {
    static let directory = "/run/systemd/journal"
    static let defaultPath = "/run/systemd/journal/socket"

    static var canRun: Bool {
        geteuid() == 0 && access("/run/systemd", W_OK) == 0 && access(defaultPath, F_OK) != 0
    }

    static func temporaryPath() -> String {
        "/tmp/moda-journal-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
    }

    /// SO_SNDBUF of a new datagram socket: a datagram must fit it, so a larger entry cannot go as one.
    static func datagramSendBuffer() throws -> Int {
        let fd = socket(AF_UNIX, CInt(SOCK_DGRAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw JournalTestError("socket() failed: errno \(errno)") }
        defer { close(fd) }
        var size: CInt = 0
        var length = socklen_t(MemoryLayout<CInt>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, &length) == 0 else {
            throw JournalTestError("getsockopt(SO_SNDBUF) failed: errno \(errno)")
        }
        return Int(size)
    }

    /// One entry as it arrived: in the datagram, or in the file whose descriptor came with an empty one.
    struct Record {
        var fields: [String: String]
        var payload: [UInt8]
        var datagramBytes: Int
        var cameAsFile: Bool
        /// F_GET_SEALS of the passed file.
        var seals: CInt?
    }

    let path: String
    private let fd: CInt
    private let createdDirectory: Bool

    init(path: String = FakeJournal.defaultPath) throws {
        self.path = path
        self.createdDirectory = path == Self.defaultPath && mkdir(Self.directory, 0o755) == 0
        self.fd = socket(AF_UNIX, CInt(SOCK_DGRAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        guard self.fd >= 0 else { throw JournalTestError("socket() failed: errno \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(self.fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else { throw JournalTestError("bind(\(path)) failed: errno \(errno)") }
    }

    deinit {
        close(self.fd)
        unlink(self.path)
        if self.createdDirectory { rmdir(Self.directory) }
    }

    /// The next record whose MESSAGE contains `marker` (other tests may log too), parsed into fields.
    func receive(containing marker: String, timeoutMilliseconds: CInt = 5_000) throws -> [String: String] {
        try self.receiveRecord(containing: marker, timeoutMilliseconds: timeoutMilliseconds).fields
    }

    func receiveRecord(containing marker: String, timeoutMilliseconds: CInt = 5_000) throws -> Record {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeoutMilliseconds))
        while true {
            let left = deadline - ContinuousClock.now
            var pollFD = pollfd(fd: self.fd, events: Int16(POLLIN), revents: 0)
            let wait = CInt(
                max(0, left.components.seconds * 1_000 + left.components.attoseconds / 1_000_000_000_000_000)
            )
            guard poll(&pollFD, 1, wait) > 0 else {
                throw JournalTestError("no journal record within \(timeoutMilliseconds) ms")
            }
            let record = try self.receiveOne()
            if record.fields["MESSAGE"]?.contains(marker) == true { return record }
        }
    }

    /// recvmsg with room for one SCM_RIGHTS descriptor; a passed descriptor is read whole and closed.
    private func receiveOne() throws -> Record {
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        // cmsghdr, then the int, padded: CMSG_SPACE(sizeof(int)) is 24 on 64-bit Linux; 64 leaves room.
        let control = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: MemoryLayout<cmsghdr>.alignment)
        defer { control.deallocate() }
        control.initializeMemory(as: UInt8.self, repeating: 0)
        var message = msghdr()
        let count = buffer.withUnsafeMutableBytes { bytes in
            var vector = iovec(iov_base: bytes.baseAddress, iov_len: bytes.count)
            return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                message.msg_iov = vectorPointer
                message.msg_iovlen = 1
                message.msg_control = control.baseAddress
                message.msg_controllen = control.count
                return recvmsg(self.fd, &message, CInt(MSG_CMSG_CLOEXEC))
            }
        }
        guard count >= 0 else { throw JournalTestError("recvmsg failed: errno \(errno)") }
        guard message.msg_flags & CInt(MSG_TRUNC) == 0 else { throw JournalTestError("datagram truncated") }
        let header = control.load(as: cmsghdr.self)
        guard message.msg_controllen > 0, header.cmsg_level == SOL_SOCKET, header.cmsg_type == CInt(SCM_RIGHTS) else {
            let payload = Array(buffer[0..<count])
            return Record(
                fields: try Self.parse(payload[...]),
                payload: payload,
                datagramBytes: count,
                cameAsFile: false,
                seals: nil
            )
        }
        let passed = control.load(fromByteOffset: MemoryLayout<cmsghdr>.size, as: CInt.self)
        defer { close(passed) }
        let seals = fcntl(passed, SealedMemoryFile.getSeals)
        var status = stat()
        guard fstat(passed, &status) == 0 else { throw JournalTestError("fstat(passed fd) failed: errno \(errno)") }
        var payload = [UInt8](repeating: 0, count: Int(status.st_size))
        var read = 0
        while read < payload.count {
            let got = payload.withUnsafeMutableBytes { bytes in
                pread(passed, bytes.baseAddress.map { $0 + read }, bytes.count - read, off_t(read))
            }
            guard got > 0 else { throw JournalTestError("pread(passed fd) failed: errno \(errno)") }
            read += got
        }
        return Record(
            fields: try Self.parse(payload[...]),
            payload: payload,
            datagramBytes: count,
            cameAsFile: true,
            seals: seals >= 0 ? seals : nil
        )
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
