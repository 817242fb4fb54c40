import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// podman as the container tests drive it. The two settings this kind of machine needs come from a containers.conf
/// of the tests' own (through `CONTAINERS_CONF`), so they reach every podman the tests start, podman-compose's and
/// `kube play`'s included, without touching the machine's configuration: the runc runtime (crun refuses the hybrid
/// cgroup layout) and ulimits below the host's (podman's defaults ask for more than a process may set here).
public enum Podman {
    public static let executable = "/usr/bin/podman"

    /// Why the container tests cannot run here, or nil when they can.
    public static let unavailableReason: String? = {
        let tools = [
            (executable, "podman"), ("/usr/sbin/runc", "runc"), ("/usr/bin/catatonit", "catatonit"),
            ("/usr/bin/podman-compose", "podman-compose"),
        ]
        let missing = tools.filter { !FileManager.default.isExecutableFile(atPath: $0.0) }.map(\.1)
        if !missing.isEmpty {
            return "needs \(missing.joined(separator: ", ")) (apt-get install podman runc catatonit podman-compose)"
        }
        // The tests publish nothing: their containers share the host's network to reach the mock upstream on
        // 127.0.0.1, which rootless podman cannot give.
        if geteuid() != 0 { return "needs root for podman with the host's network" }
        let info = runNow(["info", "--format", "{{.Host.OCIRuntime.Name}}"])
        if info.status != 0 { return "podman cannot run here: \(info.output.prefix(300))" }
        return nil
    }()

    /// The containers.conf every podman run by the tests reads.
    public static let configFile: String = {
        let folder = TemporaryDirectory()
        let path = folder.file("containers.conf")
        let text = """
            [containers]
            default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
            [engine]
            runtime = "runc"

            """
        _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        return path
    }()

    public static var environment: [String: String] { ["CONTAINERS_CONF": configFile] }

    /// podman with these arguments; its status and output.
    public static func run(_ arguments: [String], timeout: Duration = .seconds(120)) async throws -> CommandResult {
        try await CommandRunner.run(executable, arguments, environment: environment, timeout: timeout)
    }

    /// podman with these arguments, which must succeed; its standard output, trimmed.
    @discardableResult
    public static func require(_ arguments: [String], timeout: Duration = .seconds(120)) async throws -> String {
        let result = try await run(arguments, timeout: timeout)
        guard result.status == 0 else {
            throw PodmanError.failed(command: arguments, status: result.status, stderr: result.stderr)
        }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Removes containers, pods, volumes and secrets by name, ignoring those that do not exist.
    public static func remove(
        containers: [String] = [],
        pods: [String] = [],
        volumes: [String] = [],
        secrets: [String] = []
    ) async {
        if !pods.isEmpty { _ = try? await run(["pod", "rm", "--force", "--ignore"] + pods) }
        if !containers.isEmpty { _ = try? await run(["rm", "--force", "--ignore", "--volumes"] + containers) }
        for volume in volumes { _ = try? await run(["volume", "rm", "--force", volume]) }
        for secret in secrets { _ = try? await run(["secret", "rm", secret]) }
    }

    /// A container's state as `podman inspect` reports it: "running", "exited", ...; and its exit code.
    public static func state(_ container: String) async throws -> (status: String, exitCode: Int32) {
        let text = try await require(["inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", container])
        let parts = text.split(separator: " ")
        return (String(parts.first ?? ""), Int32(parts.last ?? "") ?? -1)
    }

    /// `logs` for the message of a failed expectation, which cannot await.
    public static func logsNow(_ container: String) -> String {
        runNow(["logs", container]).output
    }

    /// podman run to completion from synchronous code (a test's condition, a message); its status and output.
    static func runNow(_ arguments: [String]) -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        guard (try? process.run()) != nil else { return (-1, "cannot start \(executable)") }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    public static func logs(_ container: String) async -> String {
        guard let result = try? await run(["logs", container]) else { return "" }
        return result.stdout + result.stderr
    }
}

public enum PodmanError: Error, CustomStringConvertible {
    case failed(command: [String], status: Int32, stderr: String)

    public var description: String {
        switch self {
        case .failed(let command, let status, let stderr):
            return "podman \(command.joined(separator: " ")) exited \(status): \(stderr)"
        }
    }
}
