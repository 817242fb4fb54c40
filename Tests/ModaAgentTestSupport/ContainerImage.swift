import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The image `make image` builds, built once per test run from the release program by the same script
/// (packaging/container/build-image.sh), under a tag of the tests' own.
public enum ContainerImage {
    public static let tag = "localhost/moda-agent:test"
    public static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // ModaAgentTestSupport
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // package root
        .path
    public static let releaseProgram = "\(packageRoot)/.build-release/release/moda-agent"
    /// The uid and gid the image runs as (its /etc/passwd names them moda-agent).
    public static let user = "10001"

    /// Why the image cannot be built here, or nil.
    public static let unavailableReason: String? = {
        if let reason = Podman.unavailableReason { return reason }
        if !FileManager.default.fileExists(atPath: releaseProgram) {
            return "no release build in .build-release (make test builds one)"
        }
        return nil
    }()

    private static let built = Task<Result<String, any Error>, Never> {
        do {
            // The last run's image, so that rebuilding leaves no untagged one behind.
            _ = try? await Podman.run(["rmi", "--ignore", tag])
            let result = try await CommandRunner.run(
                "\(packageRoot)/packaging/container/build-image.sh",
                [releaseProgram, tag],
                environment: Podman.environment,
                timeout: .seconds(300)
            )
            guard result.status == 0 else {
                throw PodmanError.failed(command: ["build-image.sh"], status: result.status, stderr: result.stderr)
            }
            return .success(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        } catch {
            return .failure(error)
        }
    }

    /// Builds the image on first use; the script's report, e.g.
    /// "image localhost/moda-agent:test: 14166322 bytes compressed (13.5 MiB), 32017269 bytes unpacked".
    @discardableResult
    public static func build() async throws -> String {
        try await built.value.get()
    }

    /// Writes a config file for the container, the image's own (packaging/container/config.json) with `overrides`
    /// merged in section by section, into `directory` (mounted at /etc/moda-agent).
    public static func writeConfig(_ overrides: [String: Any], in directory: TemporaryDirectory) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(packageRoot)/packaging/container/config.json"))
        var config = (try JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
        for (key, value) in overrides {
            if let section = value as? [String: Any], var existing = config[key] as? [String: Any] {
                for (inner, innerValue) in section { existing[inner] = innerValue }
                config[key] = existing
            } else {
                config[key] = value
            }
        }
        try AgentProcess.writeConfig(config, to: directory.file("config.json"))
        // Read by the image's user.
        chmod(directory.path, 0o755)
        chmod(directory.file("config.json"), 0o644)
    }
}
