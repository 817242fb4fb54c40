import Foundation
import ModaAgentTestSupport
import Testing

/// `modactl` as an operator runs it (docs/operating.md), against a real daemon and database.
@Suite("modactl")
struct ModactlTests {
    private func checkStatusShape(_ status: [String: Any], running: Bool, state: String) throws {
        let daemon = try #require(status["daemon"] as? [String: Any])
        #expect(daemon["running"] as? Bool == running)
        if running {
            #expect(daemon["pid"] is Int)
            #expect(daemon["version"] as? String == "0.1.0")
            #expect(daemon["uptimeSeconds"] is Double || daemon["uptimeSeconds"] is Int)
        }
        let queue = try #require(status["queue"] as? [String: Any])
        #expect(queue["events"] is Int && queue["bytes"] is Int)
        #expect(queue.keys.contains("oldestAgeSeconds"))
        let dead = try #require(status["deadLetters"] as? [String: Any])
        #expect(dead["events"] is Int)
        let delivery = try #require(status["delivery"] as? [String: Any])
        #expect(delivery["state"] as? String == state)
        #expect(delivery["deliveredEvents"] is Int && delivery["attempts"] is Int)
        for key in ["lastSuccessAt", "lastError", "nextAttemptAt"] { #expect(delivery.keys.contains(key), "\(key)") }
    }

    @Test("status --json: idle, retrying, unauthorized, and with the daemon down")
    func statusJSON() async throws {
        try await withUpstream(.alwaysSuccess) { agent, mock in
            try checkStatusShape(try await agent.status(), running: true, state: "idle")
            _ = try UnixSocketClient.exchange(path: agent.socketPath, lines(1...3))
            #expect(await mock.waitForDeliveredCount(3, timeout: .seconds(10)))
            #expect(await waitForAsync { (try? await agent.deliveryState()) == "ok" })
            let ok = try await agent.status()
            try checkStatusShape(ok, running: true, state: "ok")
            #expect((ok["delivery"] as? [String: Any])?["lastSuccessAt"] is String)
            #expect((ok["delivery"] as? [String: Any])?["deliveredEvents"] as? Int == 3)

            mock.respond(.always(.status(503, message: "Service temporarily unavailable", retryable: true)))
            _ = try UnixSocketClient.exchange(path: agent.socketPath, lines(4...5))
            #expect(await waitForAsync { (try? await agent.deliveryState()) == "retrying" })
            let retrying = try await agent.status()
            try checkStatusShape(retrying, running: true, state: "retrying")
            let delivery = try #require(retrying["delivery"] as? [String: Any])
            let lastError = try #require(delivery["lastError"] as? [String: Any])
            #expect(lastError["status"] as? Int == 503)
            #expect(lastError["message"] as? String == "Service temporarily unavailable")
            #expect(lastError["at"] is String)
            #expect((delivery["attempts"] as? Int ?? 0) >= 1)

            mock.respond(.always(.status(401, message: "Invalid or missing API key", retryable: false)))
            #expect(await waitForAsync(timeout: .seconds(15)) { (try? await agent.deliveryState()) == "unauthorized" })
            let unauthorized = try await agent.status()
            try checkStatusShape(unauthorized, running: true, state: "unauthorized")
            #expect((unauthorized["delivery"] as? [String: Any])?["nextAttemptAt"] is String)

            _ = await agent.stop()
            let down = try await agent.status()
            try checkStatusShape(down, running: false, state: "unauthorized")
            #expect((down["queue"] as? [String: Any])?["events"] as? Int == 2)
            #expect(
                (down["queue"] as? [String: Any])?["oldestAgeSeconds"] is Double
                    || (down["queue"] as? [String: Any])?["oldestAgeSeconds"] is Int
            )
            let text = try await agent.modactl("status")
            #expect(text.status == 0)
            #expect(text.stdout.contains("inactive (not running)"))
            #expect(text.stdout.contains("2 events"))
            #expect(text.stdout.contains("Memory: 0 B of 64.0 MiB buffered; 0 read pauses"), "\(text.stdout)")
        }
    }

    @Test("status with an empty queue shows oldestAgeSeconds null")
    func statusEmptyQueue() async throws {
        try await AgentProcess.with { agent in
            let status = try await agent.status()
            #expect((status["queue"] as? [String: Any])?["oldestAgeSeconds"] is NSNull)
            #expect((status["delivery"] as? [String: Any])?["lastError"] is NSNull)
        }
    }

    @Test("dead letters: list, show, replay one, replay all (daemon down), purge by id, age and all")
    func deadLetters() async throws {
        let behavior = MockBehavior.rejectingEvents(where: { $0["poison"] == true }, status: 400)
        try await withUpstream(behavior) { agent, mock in
            let payload = lines(1...10) { index in
                index % 3 == 0
                    ? "{\"conversation_id\":\"c\(index)\",\"role\":\"user\",\"message\":\"bad \(index)\",\"poison\":true,\"seq\":\(index)}"
                    : EventLines.standard(index)
            }
            _ = try UnixSocketClient.exchange(path: agent.socketPath, payload)
            #expect(await waitFor { (try? QueueSnapshot(path: agent.queuePath).deadLetters.count) == 3 })

            let list = try await agent.modactl("dead-letters", "list", "--json")
            let letters = try #require(
                try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]]
            )
            // Lanes refuse their batches independently, so the three conversations may be dead-lettered in any
            // order; the listing is oldest first, which is id order.
            #expect(Set(letters.compactMap { $0["conversationId"] as? String }) == ["c3", "c6", "c9"])
            let listedIds = letters.compactMap { $0["id"] as? Int }
            #expect(listedIds == listedIds.sorted(), "oldest first")
            #expect(
                Set(letters[0].keys) == [
                    "id", "kind", "time", "status", "error", "requestId", "conversationId", "preview",
                ]
            )
            #expect(letters.allSatisfy { $0["kind"] as? String == "events" })
            let c3 = try #require(letters.first { $0["conversationId"] as? String == "c3" }?["id"] as? Int)
            let limited = try await agent.modactl("dead-letters", "list", "--json", "--limit", "1")
            #expect((try JSONSerialization.jsonObject(with: Data(limited.stdout.utf8)) as? [Any])?.count == 1)
            let human = try await agent.modactl("dead-letters", "list")
            #expect(human.stdout.contains("c3") && human.stdout.contains("400"))

            let show = try await agent.modactl("dead-letters", "show", "\(c3)")
            #expect(show.status == 0)
            let detail = try #require(try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any])
            #expect((detail["event"] as? [String: Any])?["seq"] as? Int == 3)
            #expect(detail["status"] as? Int == 400 && detail["requestId"] is String)
            let missing = try await agent.modactl("dead-letters", "show", "99999")
            #expect(missing.status == 1 && missing.stderr.contains("no dead letter with id 99999"))

            // The API now accepts everything: a replayed event is delivered.
            mock.respond(.alwaysSuccess)
            let replayOne = try await agent.modactl("dead-letters", "replay", "\(c3)")
            #expect(replayOne.status == 0 && replayOne.stdout.contains("replayed 1 event"))
            #expect(await mock.waitForDeliveredCount(8, timeout: .seconds(10)))

            _ = await agent.stop()
            let replayAll = try await agent.modactl("dead-letters", "replay", "--all")
            #expect(replayAll.status == 0 && replayAll.stdout.contains("replayed 2 events"))
            #expect(try QueueSnapshot(path: agent.queuePath).deadLetters.isEmpty)
            try await agent.start()
            #expect(await mock.waitForDeliveredCount(10, timeout: .seconds(10)))
            // Two conversations, so two lanes: no order between them is promised.
            #expect(Set(sequenceNumbers(mock.deliveredEvents).suffix(2)) == [6, 9], "the two replayed last")

            // Purge: make three new dead letters, then purge one by id, by age, and the rest.
            mock.respond(behavior)
            _ = try UnixSocketClient.exchange(path: agent.socketPath, payload)
            #expect(await waitFor { (try? QueueSnapshot(path: agent.queuePath).deadLetters.count) == 3 })
            let fresh =
                try JSONSerialization.jsonObject(
                    with: Data(try await agent.modactl("dead-letters", "list", "--json").stdout.utf8)
                ) as? [[String: Any]]
            let purgeOne = try await agent.modactl("dead-letters", "purge", "\(fresh?.first?["id"] as? Int ?? -1)")
            #expect(purgeOne.status == 0 && purgeOne.stdout.contains("purged 1 dead letter"))
            let notOld = try await agent.modactl("dead-letters", "purge", "--older-than", "1h")
            #expect(notOld.stdout.contains("purged 0 dead letters"))
            let old = try await agent.modactl("dead-letters", "purge", "--older-than", "0s")
            #expect(old.stdout.contains("purged 2 dead letters"))
            _ = try UnixSocketClient.exchange(
                path: agent.socketPath,
                lines(1...1) { _ in
                    "{\"conversation_id\":\"x\",\"role\":\"user\",\"message\":\"bad\",\"poison\":true}"
                }
            )
            #expect(await waitFor { (try? QueueSnapshot(path: agent.queuePath).deadLetters.count) == 1 })
            let all = try await agent.modactl("dead-letters", "purge", "--all")
            #expect(all.stdout.contains("purged 1 dead letter"))
            let bad = try await agent.modactl("dead-letters", "purge", "--older-than", "soon")
            #expect(bad.status == 2 && bad.stderr.contains("30s, 15m, 12h or 7d"))
        }
    }

    @Test("send: from stdin and from files; a bad line is printed with its number and exits 1")
    func send() async throws {
        try await AgentProcess.with { agent in
            let good = try await agent.modactl("send", stdin: lines(1...5))
            #expect(good.status == 0)
            #expect(good.stdout.contains("sent 5 lines: 5 events queued, 0 rejected"))

            let file = agent.directory.file("events.jsonl")
            try (EventLines.standard(6) + "\n{oops\n" + EventLines.standard(8) + "\n").write(
                toFile: file,
                atomically: true,
                encoding: .utf8
            )
            let mixed = try await agent.modactl("send", file)
            #expect(mixed.status == 1)
            #expect(mixed.stderr.contains("\(file): line 2: malformed JSON"))
            #expect(mixed.stdout.contains("sent 3 lines: 2 events queued, 1 rejected"))
            let queued = sequenceNumbers(try QueueSnapshot(path: agent.queuePath).events)
            #expect(queued == [1, 2, 3, 4, 5, 6, 8])

            _ = await agent.stop()
            let nobody = try await agent.modactl("send", stdin: lines(1...1))
            #expect(nobody.status == 1)
            #expect(nobody.stderr.contains("no moda-agent answers on \(agent.socketPath)"))
            let noFlush = try await agent.modactl("flush")
            #expect(noFlush.status == 1 && noFlush.stderr.contains("no moda-agent is running"))
        }
    }

    @Test("--help, --version, usage errors exit 2, --config before or after the subcommand")
    func commandLine() async throws {
        let help = try await CommandRunner.run(BuiltProducts.modactl, ["--help"])
        #expect(help.status == 0 && help.stdout.contains("dead-letters"))
        let version = try await CommandRunner.run(BuiltProducts.modactl, ["--version"])
        #expect(version.status == 0 && version.stdout.contains("0.1.0"))
        let agentVersion = try await CommandRunner.run(BuiltProducts.agent, ["--version"])
        #expect(agentVersion.status == 0 && agentVersion.stdout.contains("0.1.0"))
        let agentHelp = try await CommandRunner.run(BuiltProducts.agent, ["--help"])
        #expect(agentHelp.status == 0 && agentHelp.stdout.contains("--check-config"))
        let unknown = try await CommandRunner.run(BuiltProducts.modactl, ["frobnicate"])
        #expect(unknown.status == 2)
        let badFlag = try await CommandRunner.run(BuiltProducts.agent, ["--bogus"])
        #expect(badFlag.status == 2)
        let replayNothing = try await CommandRunner.run(BuiltProducts.modactl, ["dead-letters", "replay"])
        #expect(replayNothing.status == 2)

        try await AgentProcess.with { agent in
            let before = try await CommandRunner.run(
                BuiltProducts.modactl,
                ["--config", agent.configPath, "status", "--json"]
            )
            let after = try await CommandRunner.run(
                BuiltProducts.modactl,
                ["status", "--json", "--config", agent.configPath]
            )
            let equals = try await CommandRunner.run(BuiltProducts.modactl, ["status", "--config=\(agent.configPath)"])
            #expect(before.status == 0 && after.status == 0 && equals.status == 0)
            #expect(before.stdout.contains(agent.queuePath) && after.stdout.contains(agent.queuePath))
            let viaEnv = try await CommandRunner.run(
                BuiltProducts.modactl,
                ["status", "--json"],
                environment: ["MODA_AGENT_CONFIG": agent.configPath]
            )
            #expect(viaEnv.stdout.contains(agent.queuePath))
        }
        let missing = try await CommandRunner.run(
            BuiltProducts.modactl,
            ["status", "--config", "/nonexistent/config.json"]
        )
        #expect(missing.status == 78 && missing.stderr.contains("cannot read config file /nonexistent/config.json"))
    }
}
