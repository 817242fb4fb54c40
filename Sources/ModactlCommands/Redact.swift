import ArgumentParser
import FoundationEssentials
import ModaAgentCore

#if canImport(Glibc)
import Glibc
#endif

struct Redact: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print JSON lines as the config's redaction would store them; findings per detector on stderr.",
        discussion: """
            Reads files (or stdin) of JSON lines, validates and redacts each as the daemon would (the \
            redaction section of the config, its key file included) and prints the stored events, one per \
            line. Nothing is sent or stored. Exits 1 if any line would be rejected.
            """
    )

    @Argument(help: "Files of JSON lines; none or - reads standard input.")
    var files: [String] = []

    func run() throws {
        let config = try GlobalOptions.loadConfig()
        let path = ConfigLoader.resolvePath(
            flag: GlobalOptions.configFlag,
            environment: ProcessInfo.processInfo.environment
        )
        var trial: RedactionTrial
        do {
            trial = try RedactionTrial(config: config, configPath: path)
        } catch {
            fail(error.description, status: ExitStatus.configuration)
        }
        var output = StandardOutput()
        for source in files.isEmpty ? ["-"] : files {
            let fd = source == "-" ? STDIN_FILENO : open(source, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { fail("cannot read \(source): \(String(cString: strerror(errno))); check the path") }
            defer { if fd != STDIN_FILENO { close(fd) } }
            let name = source == "-" ? "stdin" : source
            var pending: [UInt8] = []
            var number = 0
            var chunk = [UInt8](repeating: 0, count: 65536)
            func flushLine(_ line: ArraySlice<UInt8>) {
                number += 1
                switch trial.run(line: Array(line), number: number) {
                case .success(let bodies):
                    for body in bodies { output.line(body) }
                case .failure(let rejection):
                    output.flush()
                    StandardError.line("\(name): \(rejection.message)")
                }
            }
            while true {
                let got = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                if got < 0 && errno == EINTR { continue }
                guard got >= 0 else { fail("cannot read \(source): \(String(cString: strerror(errno)))") }
                if got == 0 { break }
                pending.append(contentsOf: chunk[..<got])
                var start = pending.startIndex
                while let newline = pending[start...].firstIndex(of: 0x0A) {
                    flushLine(pending[start..<newline])
                    start = newline + 1
                }
                pending.removeSubrange(..<start)
            }
            if !pending.isEmpty { flushLine(pending[...]) }
        }
        output.flush()
        StandardError.write(trial.report)
        if trial.summary.rejectedLines > 0 { throw ExitCode(ExitStatus.failure) }
    }
}

/// Lines for standard output, written in large writes.
private struct StandardOutput {
    private var buffer: [UInt8] = []

    mutating func line(_ bytes: [UInt8]) {
        buffer.append(contentsOf: bytes)
        buffer.append(0x0A)
        if buffer.count >= 1 << 16 { flush() }
    }

    mutating func flush() {
        var offset = 0
        while offset < buffer.count {
            let written = buffer.withUnsafeBytes { bytes in
                bytes.baseAddress.map { Glibc.write(STDOUT_FILENO, $0 + offset, bytes.count - offset) } ?? 0
            }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { break }
            offset += written
        }
        buffer.removeAll(keepingCapacity: true)
    }
}
