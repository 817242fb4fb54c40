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
        _ executable: String,
        _ arguments: [String],
        environment: [String: String] = [:],
        stdin: String? = nil,
        timeout: Duration = .seconds(60)
    ) async throws -> CommandResult {
        var env = ChildProcess.cleanEnvironment()
        for (key, value) in environment { env[key] = value }
        let folder = TemporaryDirectory()
        defer { folder.remove() }
        let outPath = folder.file("out")
        let errPath = folder.file("err")
        var inPath: String?
        if let stdin {
            inPath = folder.file("in")
            try Data(stdin.utf8).write(to: URL(fileURLWithPath: folder.file("in")))
        }
        let process = try ChildProcess(
            executable: executable,
            arguments: arguments,
            environment: env,
            stdinPath: inPath,
            stdoutPath: outPath,
            stderrPath: errPath
        )
        var status = await process.waitForExit(timeout: timeout)
        if status == nil {
            process.signal(SIGKILL)
            status = await process.waitForExit(timeout: .seconds(5))
        }
        return CommandResult(
            status: status ?? -1,
            stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        )
    }

    public static func modactl(
        _ arguments: [String],
        config: String,
        stdin: String? = nil
    ) async throws -> CommandResult {
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
