import ArgumentParser
import FoundationEssentials
import ModaAgentCore

#if canImport(Glibc)
import Glibc
#endif

struct Send: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send JSON lines from files (or stdin) to the daemon; print each error and a summary.",
        discussion: "Exits 1 if any line was rejected or no daemon answers."
    )

    @Option(help: "The daemon's socket; with it no config is read.")
    var socket: String?

    @Argument(help: "Files of JSON lines; none or - reads standard input.")
    var files: [String] = []

    func run() throws {
        let socketPath = try socket ?? Self.configuredSocket()
        let sources = files.isEmpty ? ["-"] : files
        var total = LineSender.Summary()
        for source in sources {
            let data: Data
            do {
                data = try Self.read(source)
            } catch {
                fail("cannot read \(source): \(String(cString: strerror(error.code))); check the path")
            }
            let summary: LineSender.Summary
            do {
                summary = try LineSender.send(data, socketPath: socketPath)
            } catch {
                fail(error.description)
            }
            let name = source == "-" ? "stdin" : source
            for error in summary.errors {
                StandardError.line("\(name): \(error)")
            }
            total.lines += summary.lines
            total.acceptedLines += summary.acceptedLines
            total.acceptedEvents += summary.acceptedEvents
            total.rejectedLines += summary.rejectedLines
        }
        print(
            "sent \(total.lines) \(total.lines == 1 ? "line" : "lines"): \(total.acceptedEvents) "
                + "\(total.acceptedEvents == 1 ? "event" : "events") queued, \(total.rejectedLines) rejected"
        )
        if total.rejectedLines > 0 { throw ExitCode(ExitStatus.failure) }
    }

    struct ReadError: Error {
        var code: Int32
    }

    /// A whole file, or standard input for `-`.
    private static func read(_ source: String) throws(ReadError) -> Data {
        let fd = source == "-" ? STDIN_FILENO : open(source, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ReadError(code: errno) }
        defer { if fd != STDIN_FILENO { close(fd) } }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let got = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if got < 0 && errno == EINTR { continue }
            guard got >= 0 else { throw ReadError(code: errno) }
            if got == 0 { return Data(bytes) }
            bytes.append(contentsOf: chunk[..<got])
        }
    }

    /// `socket.path` from the config. A user kept out of the config by its permissions is told which
    /// group sending needs, not to create the file.
    private static func configuredSocket() throws -> String {
        let path = ConfigLoader.resolvePath(flag: GlobalOptions.configFlag, environment: ProcessInfo.processInfo.environment)
        if let reason = AccessHint.configNotReadable(path: path) {
            fail(reason, status: ExitStatus.configuration)
        }
        return try GlobalOptions.loadConfig().socket.path
    }
}
