import Logging
import Testing

@testable import ModaAgentCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// How the process decides between journald and stderr. `LoggingSystem.bootstrap` itself may run once per
/// process, so the tests exercise the decision and the handler factory instead.
@Suite(.serialized)
struct LoggingSetupTests {
    @Test func parsesJournalStream() {
        #expect(LoggingSetup.parseJournalStream("8:12345")?.device == 8)
        #expect(LoggingSetup.parseJournalStream("8:12345")?.inode == 12345)
        for malformed in ["", "8", "8:", ":1", "a:b", "8:12:3", "-1:2", " 8:12"] {
            #expect(LoggingSetup.parseJournalStream(malformed) == nil, "\(malformed)")
        }
    }

    @Test func matchesOnlyTheDescriptorJournalStreamNames() throws {
        var template = Array("/tmp/moda-journal-stream-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        try #require(fd >= 0)
        defer {
            close(fd)
            unlink(template)
        }
        var status = stat()
        try #require(fstat(fd, &status) == 0)

        let matching = "\(status.st_dev):\(status.st_ino)"
        #expect(LoggingSetup.isJournalStream(environmentValue: matching, fileDescriptor: fd))
        #expect(
            !LoggingSetup.isJournalStream(environmentValue: "\(status.st_dev):\(status.st_ino + 1)", fileDescriptor: fd)
        )
        #expect(!LoggingSetup.isJournalStream(environmentValue: matching, fileDescriptor: -1))
        #expect(!LoggingSetup.isJournalStream(environmentValue: "garbage", fileDescriptor: fd))
    }

    @Test func inheritedJournalStreamThatIsNotStderrIsIgnored() {
        let saved = getenv("JOURNAL_STREAM").map { String(cString: $0) }
        defer {
            if let saved { setenv("JOURNAL_STREAM", saved, 1) } else { unsetenv("JOURNAL_STREAM") }
        }
        unsetenv("JOURNAL_STREAM")
        #expect(!LoggingSetup.isJournalStream())
        // Device 0 / inode 1 is never a pipe or socket connected to stderr.
        setenv("JOURNAL_STREAM", "0:1", 1)
        #expect(!LoggingSetup.isJournalStream())
    }

    @Test func makesTheChosenHandlerWithTheLevel() {
        let journal = LoggingSetup.makeHandler(label: "a", level: .debug, journal: true, metadataProvider: nil)
        #expect(journal is JournalLogHandler)
        #expect(journal.logLevel == .debug)

        let stderr = LoggingSetup.makeHandler(label: "a", level: .warning, journal: false, metadataProvider: nil)
        #expect(stderr is StreamLogHandler)
        #expect(stderr.logLevel == .warning)
    }
}
