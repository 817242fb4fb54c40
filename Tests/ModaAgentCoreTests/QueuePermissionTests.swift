import Foundation
import ModaAgentTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

func fileMode(_ path: String) -> mode_t? {
    var info = stat()
    return stat(path, &info) == 0 ? info.st_mode & 0o777 : nil
}

/// The queue holds conversation text: private to the daemon's user, whatever the umask.
@Suite("queue file permissions")
struct QueuePermissionTests {
    @Test("started with umask 000: the queue folder is 0700 and every queue file 0600; a file opened up later is warned about")
    func queueFilesArePrivate() async throws {
        try await AgentProcess.with(start: false) { agent in
        agent.umask = 0
        try await agent.start()
        _ = try UnixSocketClient.exchange(path: agent.socketPath, lines(1...3))
        let folder = (agent.queuePath as NSString).deletingLastPathComponent
        #expect(fileMode(folder) == 0o700, "folder mode \(String(fileMode(folder) ?? 0, radix: 8))")
        for suffix in ["", "-wal", "-shm", ".lock", ".reserve"] {
            let path = agent.queuePath + suffix
            #expect(fileMode(path) == 0o600, "\(path): mode \(fileMode(path).map { String($0, radix: 8) } ?? "missing")")
        }
        // modactl, also with umask 000, adds nothing more open.
        let replay = try await CommandRunner.run(
            "/bin/sh",
            ["-c", "umask 000 && exec \"$0\" \"$@\"", BuiltProducts.modactl, "--config", agent.configPath, "dead-letters", "replay", "--all"]
        )
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(await agent.stop() == 0)
        for name in try FileManager.default.contentsOfDirectory(atPath: folder) {
            #expect(fileMode(folder + "/" + name) == 0o600, "\(name) after modactl")
        }

        chmod(agent.queuePath, 0o644)
        try await agent.start()
        let warned = await waitFor(timeout: .seconds(10)) {
            agent.log().contains("queue file \(agent.queuePath) is open to other users (mode 0644)")
        }
        #expect(warned, "no warning about the readable queue file:\n\(agent.log())")
        }
    }
}
