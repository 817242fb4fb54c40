import Foundation
import ModaAgentTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What only a real systemd shows: the shipped units and the Debian package under PID 1 in a throw-away
/// container (`Tests/system/container-lib.sh` boots it; nothing is installed on the host).
@Suite(
    "under a real systemd",
    .serialized,
    .enabled(
        if: geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-nspawn"),
        "needs root and systemd-nspawn (apt-get install systemd-container)"
    )
)
struct SystemdContainerTests {
    static func script(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("system/\(name)").path
    }

    /// Runs the script's checks; exit 77 means this machine could not boot the container.
    static func run(_ checks: String...) async throws -> CommandResult {
        try await CommandRunner.run(
            "/bin/bash",
            [script("systemd-container.sh"), BuiltProducts.directory] + checks,
            environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"],
            timeout: .seconds(300)
        )
    }

    /// The packages `make test` builds (`make test-packages`): this version and the next, for the upgrade.
    static var packages: (current: String, next: String)? {
        let environment = ProcessInfo.processInfo.environment
        guard let current = environment["MODA_TEST_DEB"], let next = environment["MODA_TEST_DEB_NEXT"] else {
            return nil
        }
        return (current, next)
    }

    @Test("a clean start logs nothing at notice level or above; monitoring and an activated http socket work")
    func cleanStartIsQuiet() async throws {
        let result = try await Self.run("clean-start", "monitoring", "http-socket")
        #expect(result.status != 77, "the container did not boot: \(result.stderr)")
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("clean-start: ok"))
        #expect(result.stdout.contains("monitoring: ok"), "the listener works inside the shipped sandbox")
        #expect(result.stdout.contains("http-socket: ok"), "the receivers work from a socket named http")
    }

    @Test(
        "the Debian package installs, serves, survives a crash, upgrades, removes and purges as an operator expects",
        .enabled(if: Self.packages != nil, "no packages to install: `make test` builds them (MODA_TEST_DEB)")
    )
    func debianPackageLifecycle() async throws {
        let packages = try #require(Self.packages)
        let result = try await CommandRunner.run(
            "/bin/bash",
            [Self.script("deb-container.sh"), packages.current, packages.next],
            environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"],
            timeout: .seconds(600)
        )
        #expect(result.status != 77, "the container did not boot: \(result.stderr)")
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let checks = [
            "install", "key", "send", "deliver", "reload", "sigkill", "stop", "security", "upgrade", "remove", "purge",
        ]
        for check in checks {
            #expect(result.stdout.contains("\(check): ok"), "no \(check): ok in \(result.stdout)")
        }
    }
}
