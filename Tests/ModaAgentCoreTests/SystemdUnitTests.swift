import Foundation
import ModaAgentTestSupport
import Testing

/// The shipped units in `systemd/`: they must pass `systemd-analyze verify`, keep the sandbox score, and keep the
/// names the spec (section 6.1) promises.
///
/// `verify` insists that ExecStart's binary exists (`/usr/local/bin/moda-agent`). To check the real, unmodified
/// files without installing anything, verify runs in a private mount namespace with a tmpfs over /usr/local/bin
/// holding a stub `moda-agent` (`unshare --mount`, needs root, as CI has). Where that is not allowed (a developer
/// without root), it falls back to verifying copies whose only change is the ExecStart path, pointing at a stub.
@Suite
struct SystemdUnitTests {
    static let unitDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // ModaAgentCoreTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // package root
        .appendingPathComponent("systemd")
    static let socketUnit = unitDirectory.appendingPathComponent("moda-agent.socket").path
    static let serviceUnit = unitDirectory.appendingPathComponent("moda-agent.service").path
    static let httpSocketUnit = unitDirectory.appendingPathComponent("moda-agent-http.socket").path
    static let installedBinary = "/usr/local/bin/moda-agent"

    static let hasSystemdAnalyze = (try? run(["systemd-analyze", "--version"]).status) == 0

    @Test(.enabled(if: hasSystemdAnalyze, "systemd-analyze is not installed"))
    func unitsPassVerify() throws {
        let result: ProcessResult
        if try Self.canUsePrivateMountNamespace() {
            // Real files, real ExecStart path: /usr/local/bin is a tmpfs only inside the namespace.
            let script = """
                mount -t tmpfs -o mode=0755 tmpfs /usr/local/bin && \
                printf '#!/bin/sh\\nexit 0\\n' > \(Self.installedBinary) && chmod 0755 \(Self.installedBinary) && \
                exec systemd-analyze verify --man=no "$0" "$1" "$2"
                """
            result = try Self.run([
                "unshare", "--mount", "--propagation", "private", "sh", "-c", script, Self.socketUnit,
                Self.serviceUnit, Self.httpSocketUnit,
            ])
            print("systemd-analyze verify: shipped units checked in a private mount namespace")
        } else {
            result = try Self.verifyCopiesWithStubExecStart()
            print("systemd-analyze verify: copies checked with ExecStart pointing at a stub (no unshare here)")
        }
        // verify exits 0 even for unknown keys or unparsable values, printing a warning: any output is a finding.
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.isEmpty, "systemd-analyze verify complained:\n\(result.output)")
    }

    @Test("the HTTP receivers' socket unit passes its fd to the service, named http (docs/protocol.md)")
    func httpSocketUnit() throws {
        let http = try Self.settings(of: Self.httpSocketUnit)
        #expect(http["FileDescriptorName"] == ["http"])
        #expect(http["Service"] == ["moda-agent.service"])
        #expect(http["ListenStream"] == ["127.0.0.1:4318"])
        #expect(http["Accept"] == ["no"])
    }

    @Test(.enabled(if: hasSystemdAnalyze, "systemd-analyze is not installed"))
    func serviceSandboxExposureIsAtMostTwo() throws {
        let result = try Self.run(["systemd-analyze", "security", "--offline=true", "--no-pager", Self.serviceUnit])
        #expect(result.status == 0, "\(result.output)")
        let exposure = try #require(
            Self.overallExposure(in: result.output),
            "no overall exposure in:\n\(result.output)"
        )
        print("systemd-analyze security --offline=true moda-agent.service: exposure \(exposure)")
        #expect(exposure <= 2.0, "\(result.output)")
    }

    @Test func overallExposureIsParsed() {
        let line = "→ Overall exposure level for moda-agent.service: 1.2 OK 🙂"
        #expect(Self.overallExposure(in: "✓ UMask=\n\(line)\n") == 1.2)
        #expect(Self.overallExposure(in: "nothing") == nil)
    }

    /// The contract other parts rely on: paths, modes, notify type, credentials and timeouts.
    @Test func unitsKeepTheSpecContract() throws {
        let socket = try Self.settings(of: Self.socketUnit)
        #expect(socket["ListenStream"] == ["/run/moda-agent/ingest.sock"])
        #expect(socket["SocketMode"] == ["0660"])
        #expect(socket["SocketGroup"] == ["moda-agent"])
        #expect(socket["WantedBy"] == ["sockets.target"])

        let service = try Self.settings(of: Self.serviceUnit)
        #expect(service["Type"] == ["notify"])
        #expect(service["ExecStart"] == ["\(Self.installedBinary) --config /etc/moda-agent/config.json"])
        // The credential refresh first (systemd before 258 copies credentials only at start), then SIGHUP.
        #expect(service["ExecReload"]?.last == "/bin/kill -HUP $MAINPID")
        #expect(service["ExecReload"]?.first?.hasPrefix("-+/bin/sh -c 'mount -o remount,rw %d && ") == true)
        #expect(service["StateDirectory"] == ["moda-agent"])
        #expect(service["RuntimeDirectory"] == ["moda-agent"])
        #expect(service["RuntimeDirectoryPreserve"] == ["yes"])
        #expect(service["LoadCredential"] == ["api-key:/etc/moda-agent/api-key"])
        #expect(service["Requires"] == ["moda-agent.socket"])
        #expect(service["Sockets"] == ["moda-agent.socket"])
        #expect(service["WatchdogSec"] == ["30s"])
        #expect(service["Restart"] == ["on-failure"])
        // Above the daemon's default drain (delivery.drainTimeoutSeconds = 10).
        #expect(service["TimeoutStopSec"] == ["30s"])
        // The Moda endpoint is on the internet: egress must stay open.
        #expect(service["IPAddressDeny"] == nil)
        #expect(service["PrivateNetwork"] == nil)
    }

    /// docs/networks.md: a company CA under /etc (`delivery.caFile`) must stay readable inside the sandbox, and
    /// the proxy (an `Environment=` drop-in, or `delivery.proxy`) must be reachable over TCP.
    @Test("the sandbox lets the daemon read a caFile under /etc and reach a proxy")
    func sandboxAllowsCAFileAndProxy() throws {
        let service = try Self.settings(of: Self.serviceUnit)
        // strict and full mount /etc read-only, which is all a CA file needs; nothing else may hide it.
        #expect(["strict", "full", "yes"].contains(service["ProtectSystem"]?.last ?? "yes"))
        for key in ["InaccessiblePaths", "TemporaryFileSystem", "BindPaths", "BindReadOnlyPaths", "RootDirectory",
            "RootImage"] {
            let paths = (service[key] ?? []).flatMap { $0.split(separator: " ") }.map { $0.trimmingPrefix("-") }
            #expect(!paths.contains { path in path == "/" || path == "/etc" || path.hasPrefix("/etc/") },
                "\(key)= hides or replaces /etc: \(paths)")
        }
        // ReadOnlyPaths keep a path readable: harmless. ProtectHome only covers /home, /root and /run/user.
        #expect(service["ProtectHome"]?.allSatisfy { ["yes", "read-only", "tmpfs"].contains($0) } ?? true)
        // A proxy is TCP, like Moda: IPv4 and IPv6 allowed, no address filter.
        let families = (service["RestrictAddressFamilies"] ?? []).flatMap { $0.split(separator: " ") }
        #expect(families.contains("AF_INET") && families.contains("AF_INET6"))
        #expect(service["IPAddressAllow"] == nil && service["IPAddressDeny"] == nil)
        // The proxy comes from the operator's drop-in: the unit must not pin or clear it.
        let environment = (service["Environment"] ?? []) + (service["UnsetEnvironment"] ?? [])
        #expect(!environment.contains { $0.lowercased().contains("proxy") }, "\(environment)")
    }

    // MARK: - Helpers

    struct ProcessResult {
        var status: Int32
        var output: String
    }

    /// Runs a command found on PATH, stdout and stderr merged (one pipe, so neither can fill up and block).
    static func run(_ arguments: [String]) throws -> ProcessResult {
        var environment = ProcessInfo.processInfo.environment
        environment["SYSTEMD_COLORS"] = "0"
        environment["SYSTEMD_PAGER"] = ""
        let folder = TemporaryDirectory()
        defer { folder.remove() }
        let output = folder.file("output")
        let process = try ChildProcess(
            executable: "/usr/bin/env",
            arguments: arguments,
            environment: environment,
            stdoutPath: output,
            stderrPath: output
        )
        return ProcessResult(
            status: process.waitUntilExit(),
            output: (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        )
    }

    static func canUsePrivateMountNamespace() throws -> Bool {
        guard geteuid() == 0, FileManager.default.fileExists(atPath: "/usr/local/bin") else { return false }
        return (try? run(["unshare", "--mount", "--propagation", "private", "true"]).status) == 0
    }

    /// The fallback: the same bytes except ExecStart's binary, which points at an executable stub in a temp dir.
    static func verifyCopiesWithStubExecStart() throws -> ProcessResult {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("moda-unit-verify-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }

        let stub = directory.appendingPathComponent("moda-agent")
        try "#!/bin/sh\nexit 0\n".write(to: stub, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: stub.path)

        let original = try String(contentsOfFile: Self.serviceUnit, encoding: .utf8)
        let rewritten = original.replacingOccurrences(
            of: "ExecStart=\(Self.installedBinary) ",
            with: "ExecStart=\(stub.path) "
        )
        let changed = zip(original.split(separator: "\n"), rewritten.split(separator: "\n")).filter { $0 != $1 }
        #expect(changed.count == 1, "exactly the ExecStart line should differ")

        let service = directory.appendingPathComponent("moda-agent.service")
        let socket = directory.appendingPathComponent("moda-agent.socket")
        try rewritten.write(to: service, atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: Self.socketUnit, toPath: socket.path)
        let http = directory.appendingPathComponent("moda-agent-http.socket")
        try FileManager.default.copyItem(atPath: Self.httpSocketUnit, toPath: http.path)
        return try run(["systemd-analyze", "verify", "--man=no", socket.path, service.path, http.path])
    }

    /// `→ Overall exposure level for moda-agent.service: 1.2 OK 🙂` → 1.2
    static func overallExposure(in output: String) -> Double? {
        for line in output.split(separator: "\n") where line.contains("Overall exposure level for") {
            guard let colon = line.lastIndex(of: ":") else { continue }
            let number = line[line.index(after: colon)...].split(separator: " ").first
            return number.flatMap { Double($0) }
        }
        return nil
    }

    /// `Key=value` settings of a unit file, all sections together (keys are unique across ours), comments skipped.
    static func settings(of path: String) throws -> [String: [String]] {
        var settings: [String: [String]] = [:]
        for rawLine in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            guard !line.isEmpty, !line.hasPrefix("#"), !line.hasPrefix(";"), !line.hasPrefix("["),
                let equals = line.firstIndex(of: "=")
            else { continue }
            settings[String(line[..<equals]), default: []].append(String(line[line.index(after: equals)...]))
        }
        return settings
    }
}
