import Foundation

/// A `moda-agent` daemon run from the built binary, with its own config, queue and socket in a
/// temporary folder. Tests drive it like an operator would: signals, kill -9, restarts.
public final class AgentProcess: @unchecked Sendable {
    // @unchecked: `process` is replaced only by start(), and the settings `apiKeyInEnvironment`, `umask`
    // and `executable` are set before it; a test drives its daemon from one task at a time.
    public let directory: TemporaryDirectory
    public let configPath: String
    public let socketPath: String
    public let queuePath: String
    public let logPath: String
    public let apiKey: String
    private var process: ChildProcess?
    /// False: the key comes from the config's apiKeyFile, so a test can change it and send SIGHUP.
    public var apiKeyInEnvironment = true
    /// Starts the daemon with this umask (through /bin/sh) instead of the test runner's.
    public var umask: mode_t?
    /// The program to run: the debug build the tests build, unless a test measures the release one.
    public var executable = BuiltProducts.agent

    /// `overrides` are merged into the config section by section, e.g.
    /// `["queue": ["maxBytes": 4096], "endpoint": "http://127.0.0.1:1234/v1/ingest"]`.
    public init(
        directory: TemporaryDirectory = TemporaryDirectory(),
        overrides: [String: Any] = [:],
        apiKey: String = "test-key-\(UUID().uuidString.prefix(6))"
    ) throws {
        self.directory = directory
        self.apiKey = apiKey
        configPath = directory.file("config.json")
        socketPath = directory.file("ingest.sock")
        queuePath = directory.file("queue/queue.db")
        logPath = directory.file("agent.log")
        var config: [String: Any] = [
            // Nothing listens there, so delivery fails fast and events stay queued.
            "endpoint": ClosedPort.endpoint,
            "apiKeyFile": directory.file("api-key"),
            "socket": ["path": socketPath] as [String: Any],
            "queue": ["path": queuePath] as [String: Any],
            "delivery": ["retryInitialSeconds": 0.05, "retryMaxSeconds": 0.5, "drainTimeoutSeconds": 1]
                as [String: Any],
            "batch": ["flushIntervalMs": 50] as [String: Any],
        ]
        for (key, value) in overrides {
            if let section = value as? [String: Any], var existing = config[key] as? [String: Any] {
                for (inner, innerValue) in section { existing[inner] = innerValue }
                config[key] = existing
            } else {
                config[key] = value
            }
        }
        try Self.writeConfig(config, to: configPath)
    }

    public static func writeConfig(_ config: [String: Any], to path: String) throws {
        let data = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: path))
    }

    /// Starts the daemon and waits (bounded) until its socket answers.
    public func start(extraEnvironment: [String: String] = [:], waitUntilReady: Bool = true) async throws {
        var environment = ChildProcess.cleanEnvironment()
        if apiKeyInEnvironment { environment["MODA_API_KEY"] = apiKey }
        for (key, value) in extraEnvironment { environment[key] = value }
        var executable = self.executable
        var arguments = ["--config", configPath]
        if let umask {
            arguments = ["-c", "umask \(String(umask, radix: 8)) && exec \"$0\" \"$@\"", executable] + arguments
            executable = "/bin/sh"
        }
        let process = try ChildProcess(
            executable: executable,
            arguments: arguments,
            environment: environment,
            stdoutPath: logPath,
            stderrPath: logPath
        )
        self.process = process
        if waitUntilReady {
            let ready = await waitFor(timeout: .seconds(20)) {
                !process.isRunning || UnixSocketClient.canConnect(socketPath)
            }
            guard ready, process.isRunning else {
                throw AgentProcessError.didNotStart(log: log(), status: process.terminationStatus)
            }
        }
    }

    public var pid: Int32 { process?.pid ?? 0 }
    public var isRunning: Bool { process?.isRunning ?? false }

    public func signal(_ number: Int32) {
        process?.signal(number)
    }

    /// kill -9: no chance to clean up, exactly like a crash.
    public func crash() async {
        signal(SIGKILL)
        _ = await waitForExit(timeout: .seconds(10))
    }

    /// Waits (bounded) for the process to end; its exit status, or nil if it is still running.
    public func waitForExit(timeout: Duration) async -> Int32? {
        guard let process else { return nil }
        return await process.waitForExit(timeout: timeout)
    }

    /// SIGTERM and the exit status.
    public func stop(timeout: Duration = .seconds(20)) async -> Int32? {
        signal(SIGTERM)
        return await waitForExit(timeout: timeout)
    }

    public func log() -> String {
        (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    }

    public func client() throws -> UnixSocketClient {
        try UnixSocketClient(path: socketPath)
    }

    /// Stops the daemon if it still runs and removes the folder.
    public func cleanUp() async {
        if isRunning {
            signal(SIGKILL)
            _ = await waitForExit(timeout: .seconds(5))
        }
        directory.remove()
    }
}

public enum AgentProcessError: Error, CustomStringConvertible {
    case didNotStart(log: String, status: Int32?)

    public var description: String {
        switch self {
        case .didNotStart(let log, let status):
            return "moda-agent did not start (exit status \(status.map(String.init) ?? "none")):\n\(log)"
        }
    }
}

extension AgentProcess {
    /// Runs `body` with a fresh agent and always stops it and removes its folder afterwards,
    /// whether `body` returns or throws.
    public static func with<T>(
        overrides: [String: Any] = [:],
        start: Bool = true,
        _ body: (AgentProcess) async throws -> T
    ) async throws -> T {
        let agent = try AgentProcess(overrides: overrides)
        do {
            if start { try await agent.start() }
            let result = try await body(agent)
            await agent.cleanUp()
            return result
        } catch {
            await agent.cleanUp()
            throw error
        }
    }
}
