import Foundation
import ModaAgentTestSupport
import Testing

/// `make test` on a fresh Debian machine installs what the tests need itself (packaging/test-deps),
/// so the README's command works as written and `.ci/run` only calls make. Run against stub
/// `dpkg`, `apt-get` and `sudo` that record what would be installed: nothing is installed.
@Suite("make deps and test-deps")
struct MakeDepsTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// Runs `make TARGET` on a machine where every package is missing; returns what apt-get was asked.
    static func installed(by target: String) async throws -> (packages: Set<String>, result: CommandResult) {
        let folder = TemporaryDirectory()
        defer { folder.remove() }
        let log = folder.file("apt-get.log")
        let stubs: [String: String] = [
            "dpkg": "#!/bin/sh\nexit 1\n",
            "apt-get": "#!/bin/sh\necho \"$@\" >> \(log)\n",
            "sudo": "#!/bin/sh\nexec \"$@\"\n",
        ]
        for (name, script) in stubs {
            try script.write(toFile: folder.file(name), atomically: true, encoding: .utf8)
            chmod(folder.file(name), 0o755)
        }
        let result = try await CommandRunner.run(
            "/usr/bin/make",
            ["--no-print-directory", "-C", root, target],
            environment: ["PATH": "\(folder.path):/usr/bin:/bin"]
        )
        let calls = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        let install = calls.split(separator: "\n").first { $0.contains("install") } ?? ""
        return (Set(install.split(separator: " ").map(String.init).filter { !$0.hasPrefix("-") && $0 != "install" }), result)
    }

    @Test("make test-deps installs the build's and the tests' packages, lintian and systemd-container among them")
    func testDeps() async throws {
        let (packages, result) = try await Self.installed(by: "test-deps")
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        for package in [
            "libsqlite3-dev", "pkg-config", "lintian", "systemd-container", "prometheus", "dpkg-dev", "python3-venv",
        ] {
            #expect(packages.contains(package), "\(package) not installed: \(packages.sorted())")
        }
    }

    @Test("make deps installs only what the build needs")
    func buildDeps() async throws {
        let (packages, result) = try await Self.installed(by: "deps")
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(packages == ["libsqlite3-dev", "libsystemd-dev", "libvectorscan-dev", "pkg-config"])
    }

    @Test("make test and lint-deb install the tests' packages first; .ci/run leaves installing to make")
    func testTargetsDependOnTestDeps() async throws {
        let database = try await CommandRunner.run("/usr/bin/make", ["-C", Self.root, "-pn", "test-deps"])
        let rules = database.stdout.split(separator: "\n")
        #expect(rules.contains { $0.hasPrefix("test: test-deps") }, "make test does not run test-deps first")
        #expect(rules.contains { $0.hasPrefix("lint-deb: test-deps") })
        let ci = try String(contentsOfFile: "\(Self.root)/.ci/run", encoding: .utf8)
        #expect(!ci.contains("apt-get"))
        #expect(ci.contains("make test"))
    }
}
