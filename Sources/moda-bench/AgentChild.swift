import Foundation
import ModaAgentTestSupport

/// The daemon under test: the real `moda-agent` binary as a child process with a generated config
/// (socket, queue and log in a `BenchWorkspace`; endpoint the mock; everything else the shipped
/// defaults but a 1 s shutdown drain, so stopping a daemon whose upstream is down does not cost
/// the default 10 s). The figures include everything a user's daemon does.
final class AgentChild {
    let workspace: BenchWorkspace
    private let binary: String
    private var process: Process?

    var socketPath: String { workspace.file("ingest.sock") }
    var logPath: String { workspace.file("agent.log") }
    var pid: Int32 { process?.processIdentifier ?? 0 }
    var isRunning: Bool { process?.isRunning ?? false }
    /// The highest VmHWM of the processes already stopped (a restart starts a new high-water mark).
    private var earlierPeakMiB = 0.0

    init(
        binary: String,
        workspace: BenchWorkspace,
        endpoint: String,
        durability: String,
        monitoring: Bool,
        redaction: [String] = [],
        traceMaxBytes: Int? = nil
    ) throws(BenchFailure) {
        self.binary = binary
        self.workspace = workspace
        var config: [String: Any] = [
            "endpoint": endpoint,
            "socket": ["path": workspace.file("ingest.sock")],
            "queue": ["path": workspace.file("queue/queue.db"), "durability": durability],
            "delivery": ["drainTimeoutSeconds": 1],
        ]
        if monitoring { config["monitoring"] = ["listen": "127.0.0.1:0"] }
        if !redaction.isEmpty { config["redaction"] = ["detectors": redaction] }
        if let traceMaxBytes { config["trace"] = ["maxBytes": traceMaxBytes] }
        do {
            let data = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
            try data.write(to: URL(fileURLWithPath: workspace.file("config.json")))
        } catch {
            throw BenchFailure("cannot write the daemon's config: \(error)")
        }
    }

    /// Starts the daemon and waits (at most 30 s) until its socket accepts a connection.
    func start() throws(BenchFailure) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--config", workspace.file("config.json")]
        var environment = ProcessInfo.processInfo.environment
        for name in [
            "NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "CREDENTIALS_DIRECTORY",
            "JOURNAL_STREAM", "WATCHDOG_USEC", "MODA_AGENT_CONFIG",
        ] {
            environment.removeValue(forKey: name)
        }
        environment["MODA_API_KEY"] = "bench-key"
        process.environment = environment
        if !FileManager.default.fileExists(atPath: logPath) {
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        }
        ProgramPages.evict(binary)
        do {
            let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
            log.seekToEndOfFile()
            process.standardOutput = log
            process.standardError = log
            try process.run()
            try? log.close()
        } catch {
            throw BenchFailure("cannot start \(binary): \(error)")
        }
        self.process = process
        let deadline = Monotonic.now() + 30_000_000_000
        while Monotonic.now() < deadline {
            guard process.isRunning else {
                throw BenchFailure("moda-agent exited at start (status \(process.terminationStatus)):\n\(logTail())")
            }
            if UnixSocketClient.canConnect(socketPath) { return }
            Monotonic.sleep(seconds: 0.005)
        }
        throw BenchFailure("moda-agent did not open its socket within 30 s:\n\(logTail())")
    }

    /// SIGTERM and wait for a clean exit (status 0 within 30 s); anything else is a failure.
    func stop() throws(BenchFailure) {
        guard let process, process.isRunning else {
            if let process { throw BenchFailure("moda-agent had already exited (status \(process.terminationStatus))") }
            return
        }
        earlierPeakMiB = max(earlierPeakMiB, memory()?.peakMiB ?? 0)
        Foundation.kill(process.processIdentifier, SIGTERM)
        let deadline = Monotonic.now() + 30_000_000_000
        while process.isRunning, Monotonic.now() < deadline { Monotonic.sleep(seconds: 0.005) }
        if process.isRunning {
            Foundation.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw BenchFailure("moda-agent did not stop within 30 s of SIGTERM")
        }
        guard process.terminationStatus == 0 else {
            throw BenchFailure("moda-agent exited with status \(process.terminationStatus) on SIGTERM:\n\(logTail())")
        }
    }

    /// kill -9, for cleaning up after a failed run.
    func forceKill() {
        guard let process, process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func memory() -> ProcessStats.Memory? {
        ProcessStats.memory(pid: pid)
    }

    /// Peak resident memory over every process this daemon has been (it may have been restarted).
    func peakMiB() -> Double? {
        let current = isRunning ? memory()?.peakMiB : nil
        guard let current else { return earlierPeakMiB > 0 ? earlierPeakMiB : nil }
        return max(current, earlierPeakMiB)
    }

    func cpuSeconds() -> Double? {
        ProcessStats.cpuSeconds(pid: pid)
    }

    /// The last lines of the daemon's log, for failure reports.
    func logTail(lines: Int = 15) -> String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }
}
