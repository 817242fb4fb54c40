import Foundation
import ModaAgentTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What only a real systemd shows: the shipped units under PID 1 in a throw-away container
/// (`Tests/system/systemd-container.sh` boots it; nothing is installed on the host).
@Suite(
    "under a real systemd",
    .enabled(
        if: geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-nspawn"),
        "needs root and systemd-nspawn (apt-get install systemd-container)"
    )
)
struct SystemdContainerTests {
    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("system/systemd-container.sh").path
    }

    /// Runs the script's checks; exit 77 means this machine could not boot the container.
    static func run(_ checks: String...) async throws -> CommandResult {
        try await CommandRunner.run(
            "/bin/bash",
            [script, BuiltProducts.directory] + checks,
            environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"],
            timeout: .seconds(300)
        )
    }

    @Test("a clean start under the shipped unit logs nothing at notice level or above; monitoring works in its sandbox")
    func cleanStartIsQuiet() async throws {
        let result = try await Self.run("clean-start", "monitoring")
        #expect(result.status != 77, "the container did not boot: \(result.stderr)")
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("clean-start: ok"))
        #expect(result.stdout.contains("monitoring: ok"), "the listener works inside the shipped sandbox")
    }
}
