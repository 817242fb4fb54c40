import Foundation
import ModaAgentTestSupport
import Testing

@testable import ModaAgentCore

#if canImport(Glibc)
import Glibc
#endif

/// A queue or socket folder the daemon's user cannot write in (in a container: a volume owned by another uid) stops
/// the daemon with a sentence naming the folder, both uids and the fix, instead of SQLite's "permission denied".
@Suite("folders owned by another user")
struct FolderAccessTests {
    @Test("the message names the folder, the setting, owner and mode, the daemon's ids and the chown that fixes it")
    func message() {
        let text = FolderAccess.describe(
            folder: "/var/lib/moda-agent",
            setting: "queue.path",
            owner: 0,
            group: 0,
            mode: 0o755,
            uid: 10001,
            gid: 10001
        )
        #expect(text.hasPrefix("the folder /var/lib/moda-agent (queue.path) belongs to uid 0, gid 0 with mode 0755"))
        #expect(text.contains("moda-agent runs as uid 10001, gid 10001: it cannot create files there"))
        #expect(text.contains("`chown -R 10001:10001 /var/lib/moda-agent`"))
        #expect(text.contains("securityContext.fsGroup: 10001"))
        #expect(text.contains("or point queue.path elsewhere"))
    }

    @Test("a writable or missing folder is no problem")
    func noProblem() {
        let folder = TemporaryDirectory()
        defer { folder.remove() }
        #expect(FolderAccess.problem(folder: folder.path, setting: "queue.path") == nil)
        #expect(FolderAccess.problem(folder: folder.file("not-yet"), setting: "queue.path") == nil)
    }

    /// As a container user would meet it: the daemon run as nobody, its queue folder root's.
    @Test(
        "the daemon run as another user than the queue folder's owner exits 1 with that message",
        .enabled(
            if: geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"),
            "needs root and setpriv"
        )
    )
    func daemonRefuses() async throws {
        let folder = TemporaryDirectory()
        defer { folder.remove() }
        let queue = folder.file("queue")
        try FileManager.default.createDirectory(atPath: queue, withIntermediateDirectories: false)
        chmod(folder.path, 0o755)
        chmod(queue, 0o755)
        try AgentProcess.writeConfig(
            [
                "endpoint": ClosedPort.endpoint, "queue": ["path": "\(queue)/queue.db"],
                "socket": ["path": folder.file("s")],
            ],
            to: folder.file("config.json")
        )
        chmod(folder.file("config.json"), 0o644)
        let result = try await CommandRunner.run(
            "/usr/bin/setpriv",
            [
                "--reuid=65534", "--regid=65534", "--clear-groups", BuiltProducts.agent, "--config",
                folder.file("config.json"),
            ],
            environment: ["MODA_API_KEY": "k"],
            timeout: .seconds(30)
        )
        #expect(result.status == 1, "exit \(result.status): \(result.stderr)")
        #expect(result.stderr.contains("the folder \(queue) (queue.path) belongs to uid 0"), "\(result.stderr)")
        #expect(result.stderr.contains("`chown -R 65534:65534 \(queue)`"), "\(result.stderr)")
    }
}
