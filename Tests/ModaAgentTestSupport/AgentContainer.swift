import Foundation

/// The agent's image run as a container on the host's network, so that it reaches a MockModaServer on 127.0.0.1,
/// with the image's config plus a test's overrides mounted at /etc/moda-agent. Its receivers listen on
/// 127.0.0.1 ports the kernel picks (found in its log), so runs never collide.
public struct AgentContainer: Sendable {
    public let name: String
    public let configDirectory: TemporaryDirectory

    /// Starts the container detached; `volumes` as `podman run -v` takes them.
    public static func start(
        name: String,
        volumes: [String],
        overrides: [String: Any],
        apiKey: String = "container-test-key",
        extraArguments: [String] = []
    ) async throws -> AgentContainer {
        let directory = TemporaryDirectory()
        var config = overrides
        config["http"] = ["listen": "127.0.0.1:0"]
        config["monitoring"] = ["listen": "127.0.0.1:0"]
        try ContainerImage.writeConfig(config, in: directory)
        var arguments = [
            "run", "--detach", "--name", name, "--network", "host", "--no-healthcheck",
            "--env", "MODA_API_KEY=\(apiKey)", "--volume", "\(directory.path):/etc/moda-agent:ro",
        ]
        for volume in volumes { arguments += ["--volume", volume] }
        try await Podman.require(arguments + extraArguments + [ContainerImage.tag])
        return AgentContainer(name: name, configDirectory: directory)
    }

    /// Waits (bounded) until the daemon logged that it started; false if it did not or its container ended.
    public func waitUntilStarted(timeout: Duration = .seconds(30)) async -> Bool {
        await waitForAsync(timeout: timeout, every: .milliseconds(200)) {
            await Podman.logs(name).contains("moda-agent started")
        }
    }

    /// The HTTP receivers' address, from the daemon's log line.
    public func httpAddress() async -> String? {
        for line in await Podman.logs(name).split(separator: "\n") where line.contains("HTTP receivers") {
            if let range = line.range(of: #"listen=127\.0\.0\.1:\d+"#, options: .regularExpression) {
                return String(line[range].dropFirst("listen=".count))
            }
        }
        return nil
    }

    /// POSTs `body` to /v1/ingest with curl; the HTTP status and the body.
    public func post(_ body: String, to address: String) async throws -> (status: Int, body: String) {
        let result = try await CommandRunner.run(
            "/usr/bin/curl",
            [
                "-s", "-o", "/dev/stdout", "-w", "\n%{http_code}", "--max-time", "20",
                "-H", "Content-Type: application/json", "--data-binary", "@-", "http://\(address)/v1/ingest",
            ],
            stdin: body
        )
        let parts = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(parts.last ?? "") ?? 0, parts.dropLast().joined(separator: "\n"))
    }

    /// Removes the container and its config folder.
    public func remove() async {
        await Podman.remove(containers: [name])
        configDirectory.remove()
    }

    /// Where a named volume's files are on the host (where the tests reach the socket a container made there).
    public static func mountpoint(ofVolume volume: String) async throws -> String {
        try await Podman.require(["volume", "inspect", "--format", "{{.Mountpoint}}", volume])
    }
}
