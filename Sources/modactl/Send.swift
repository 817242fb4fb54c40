import ArgumentParser
import Foundation
import ModaAgentCore

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
            if source == "-" {
                data = FileHandle.standardInput.readDataToEndOfFile()
            } else {
                guard let contents = FileManager.default.contents(atPath: source) else {
                    fail("cannot read \(source): \(String(cString: strerror(errno))); check the path")
                }
                data = contents
            }
            let summary: LineSender.Summary
            do {
                summary = try LineSender.send(data, socketPath: socketPath)
            } catch {
                fail(error.description)
            }
            let name = source == "-" ? "stdin" : source
            for error in summary.errors {
                FileHandle.standardError.write(Data("\(name): \(error)\n".utf8))
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
