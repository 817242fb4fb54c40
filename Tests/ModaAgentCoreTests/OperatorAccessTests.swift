import Foundation
import ModaAgentTestSupport
import Testing

@testable import ModaAgentCore

#if canImport(Glibc)
import Glibc
#endif

/// What `modactl` may touch, and what it tells a user it keeps out.
@Suite("operator access")
struct OperatorAccessTests {
    /// Names and modification times of the folder and every file in it, to the nanosecond.
    static func fingerprint(_ folder: String) throws -> [String: String] {
        var result: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder) + ["."] {
            var info = stat()
            stat(folder + "/" + name, &info)
            result[name] = "\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec) \(info.st_size)"
        }
        return result
    }

    /// The folder's fingerprint once two readings 300 ms apart agree (at most 10 s).
    static func settledFingerprint(_ folder: String) async throws -> [String: String] {
        var last = try fingerprint(folder)
        for _ in 0..<33 {
            try await Task.sleep(for: .milliseconds(300))
            let now = try fingerprint(folder)
            if now == last { return now }
            last = now
        }
        return last
    }

    static func addDeadLetter(queuePath: String) throws {
        let db = try SQLiteConnection(path: queuePath)
        try db.execute(
            "INSERT INTO dead_letters (event_id, received_at, dead_at, status, error, conversation_id, preview, body) "
                + "VALUES (1, 1, 1, 400, 'refused', 'c1', 'hello', '{\"conversation_id\":\"c1\"}')"
        )
        db.close()
    }

    @Test("status, dead-letters list and show change nothing in the queue folder, daemon stopped or running")
    func lookingChangesNothing() async throws {
        // Delivery waits its flush interval before the first attempt: otherwise its retries against the
        // closed upstream record the delivery state now and then, and one landing between the two
        // readings (seen once in a clean-clone run with every suite at once) looks like a change.
        try await AgentProcess.with(overrides: ["batch": ["flushIntervalMs": 600_000]]) { agent in
            _ = try UnixSocketClient.exchange(path: agent.socketPath, lines(1...2))
            #expect(await agent.stop() == 0)
            try Self.addDeadLetter(queuePath: agent.queuePath)
            let folder = (agent.queuePath as NSString).deletingLastPathComponent
            for running in [false, true] {
                if running { try await agent.start() }
                // A daemon just started still records its start (delivery state, memory, a checkpoint) after
                // its socket listens: compare from the moment the folder has settled.
                let before = try await Self.settledFingerprint(folder)
                for arguments in [["status", "--json"], ["dead-letters", "list", "--json"], ["dead-letters", "show", "1"]] {
                    let result = try await CommandRunner.modactl(arguments, config: agent.configPath)
                    #expect(result.status == 0, "\(arguments): \(result.stderr)")
                }
                let status = try await agent.status()
                #expect((status["queue"] as? [String: Any])?["events"] as? Int == 2)
                #expect((status["deadLetters"] as? [String: Any])?["events"] as? Int == 1)
                #expect(try Self.fingerprint(folder) == before, "daemon running: \(running)")
            }
        }
    }

    @Test("status on an older queue (v1) reads it and leaves its schema alone")
    func statusDoesNotMigrate() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let queuePath = directory.file("queue.db")
        do {
            let db = try SQLiteConnection(path: queuePath)
            try db.execute("PRAGMA journal_mode = WAL")
            try db.execute(QueueSchema.migrations[0].sql)
            try db.execute("PRAGMA user_version = 1")
            try db.execute("INSERT INTO events (received_at, body) VALUES (1, '{}')")
            try db.execute("UPDATE counters SET queued_events = 1, queued_bytes = 2")
            db.close()
        }
        let config = directory.file("config.json")
        try AgentProcess.writeConfig(
            ["queue": ["path": queuePath], "socket": ["path": directory.file("s.sock")], "apiKey": "k"],
            to: config
        )
        let result = try await CommandRunner.modactl(["status", "--json"], config: config)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("\"events\" : 1"), "\(result.stdout)")
        let db = try SQLiteConnection(path: queuePath, readOnly: true)
        #expect(try db.scalarInt("PRAGMA user_version") == 1)
        db.close()
    }

    @Test(
        "root replaying on a queue another user owns acts as that user: every file stays theirs",
        .enabled(if: geteuid() == 0)
    )
    func rootActsAsTheOwner() async throws {
        try await AgentProcess.with { agent in
            _ = try UnixSocketClient.exchange(path: agent.socketPath, lines(1...2))
            #expect(await agent.stop() == 0)
            try Self.addDeadLetter(queuePath: agent.queuePath)
            let folder = (agent.queuePath as NSString).deletingLastPathComponent
            chown(folder, 65534, 65534)
            for name in try FileManager.default.contentsOfDirectory(atPath: folder) {
                chown(folder + "/" + name, 65534, 65534)
            }
            let result = try await CommandRunner.modactl(["dead-letters", "replay", "--all"], config: agent.configPath)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("replayed 1 event"))
            for name in try FileManager.default.contentsOfDirectory(atPath: folder) {
                var info = stat()
                stat(folder + "/" + name, &info)
                #expect(info.st_uid == 65534, "\(name) is owned by uid \(info.st_uid)")
            }
            #expect(try QueueSnapshot(path: agent.queuePath).events.count == 3)
        }
    }

    @Test("send --socket needs no config")
    func sendWithSocketNeedsNoConfig() async throws {
        try await AgentProcess.with { agent in
            let result = try await CommandRunner.run(
                BuiltProducts.modactl,
                ["--config", agent.directory.file("missing.json"), "send", "--socket", agent.socketPath],
                stdin: lines(1...2)
            )
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("2 events queued"))
        }
    }

    @Test(
        "a user outside the group is told which group sending needs, for the config and for the socket",
        .enabled(if: geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"))
    )
    func outsiderIsToldAboutTheGroup() async throws {
        try await AgentProcess.with { agent in
            // Like /etc/moda-agent/config.json (0640, group moda-agent) and the socket unit (0660, same group),
            // with the existing group `daemon` standing in.
            chmod(agent.directory.path, 0o755)
            chown(agent.configPath, 0, 1)
            chmod(agent.configPath, 0o640)
            chown(agent.socketPath, 0, 1)
            chmod(agent.socketPath, 0o660)
            let asNobody = ["--reuid=65534", "--regid=65534", "--clear-groups", BuiltProducts.modactl]

            let viaConfig = try await CommandRunner.run(
                "/usr/bin/setpriv",
                asNobody + ["--config", agent.configPath, "send"],
                stdin: lines(1...1)
            )
            #expect(viaConfig.status == 78)
            #expect(viaConfig.stderr.contains("group daemon"), "\(viaConfig.stderr)")
            #expect(viaConfig.stderr.contains("usermod -aG daemon nobody"), "\(viaConfig.stderr)")
            #expect(!viaConfig.stderr.contains("Create it"), "\(viaConfig.stderr)")

            let viaSocket = try await CommandRunner.run(
                "/usr/bin/setpriv",
                asNobody + ["send", "--socket", agent.socketPath],
                stdin: lines(1...1)
            )
            #expect(viaSocket.status == 1)
            #expect(
                viaSocket.stderr.contains("only members of the group daemon may write events"),
                "\(viaSocket.stderr)"
            )
        }
    }
}
