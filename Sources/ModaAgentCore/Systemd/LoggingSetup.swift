import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Chooses where the process logs: journald with structured fields when systemd connected stderr to the journal,
/// plain text on stderr otherwise (a terminal, a container, a test).
public enum LoggingSetup {
    /// Bootstraps swift-log once for the whole process (swift-log forbids a second call).
    public static func bootstrap(level: Logger.Level, metadataProvider: Logger.MetadataProvider? = nil) {
        let journal = self.isJournalStream()
        LoggingSystem.bootstrap(
            { label, provider in
                self.makeHandler(label: label, level: level, journal: journal, metadataProvider: provider)
            },
            metadataProvider: metadataProvider
        )
    }

    /// Whether stderr is the journal stream systemd set up, per `JOURNAL_STREAM` (`DEV:INODE`) and systemd.exec(5).
    ///
    /// Comparing against fstat(2) of stderr, not just testing that the variable exists, matters: it is inherited,
    /// and a process started from a systemd service (e.g. `modactl` run from a unit's shell, or a redirected
    /// stderr) would otherwise send its logs to the journal instead of where the user looks.
    public static func isJournalStream() -> Bool {
        guard let raw = getenv("JOURNAL_STREAM") else { return false }
        return self.isJournalStream(environmentValue: String(cString: raw), fileDescriptor: STDERR_FILENO)
    }

    static func isJournalStream(environmentValue: String, fileDescriptor: CInt) -> Bool {
        guard let expected = self.parseJournalStream(environmentValue) else { return false }
        var status = stat()
        guard fstat(fileDescriptor, &status) == 0 else { return false }
        return UInt64(status.st_dev) == expected.device && UInt64(status.st_ino) == expected.inode
    }

    /// Parses `DEV:INODE` (both decimal). `nil` for anything else.
    static func parseJournalStream(_ value: String) -> (device: UInt64, inode: UInt64)? {
        let parts = value.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return nil }
        return (device, inode)
    }

    static func makeHandler(
        label: String,
        level: Logger.Level,
        journal: Bool,
        metadataProvider: Logger.MetadataProvider?
    ) -> any LogHandler {
        if journal {
            return JournalLogHandler(label: label, logLevel: level, metadataProvider: metadataProvider)
        }
        var handler = StreamLogHandler.standardError(label: label, metadataProvider: metadataProvider)
        handler.logLevel = level
        return handler
    }
}
