import Foundation

/// Runs a built program to completion with a bounded wait: how tests use `modactl` and
/// `moda-agent --check-config` exactly as an operator would.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

public enum CommandRunner {
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], stdin: String? = nil,
        timeout: Duration = .seconds(60)
    ) async throws -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "MODA_API_KEY")
        env.removeValue(forKey: "MODA_AGENT_CONFIG")
        env.removeValue(forKey: "CREDENTIALS_DIRECTORY")
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let folder = TemporaryDirectory()
        defer { folder.remove() }
        let outPath = folder.file("out")
        let errPath = folder.file("err")
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        if let stdin {
            let inPath = folder.file("in")
            try Data(stdin.utf8).write(to: URL(fileURLWithPath: inPath))
            process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: inPath))
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        try process.run()
        let ended = await waitFor(timeout: timeout, every: .milliseconds(5)) { !process.isRunning }
        if !ended {
            process.terminate()
            process.waitUntilExit()
        }
        return CommandResult(
            status: ended ? process.terminationStatus : -1,
            stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
    }

    public static func modactl(_ arguments: [String], config: String, stdin: String? = nil) async throws -> CommandResult {
        try await run(BuiltProducts.modactl, ["--config", config] + arguments, stdin: stdin)
    }
}

extension AgentProcess {
    public func modactl(_ arguments: String..., stdin: String? = nil) async throws -> CommandResult {
        try await CommandRunner.modactl(arguments, config: configPath, stdin: stdin)
    }

    /// `modactl status --json`, parsed.
    public func status() async throws -> [String: Any] {
        let result = try await CommandRunner.modactl(["status", "--json"], config: configPath)
        guard result.status == 0,
            let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        else {
            throw AgentProcessError.didNotStart(log: "status failed: \(result.stderr)", status: result.status)
        }
        return object
    }

    public func deliveryState() async throws -> String? {
        (try await status()["delivery"] as? [String: Any])?["state"] as? String
    }
}
