import Foundation
import ModaAgentTestSupport
import Testing

/// The agent's guarantees hold in its container: a queue volume carries acknowledged events through a kill -9, and
/// SIGTERM drains within the grace period `podman stop` gives.
extension ContainerTests {
    static func line(_ mark: String) -> String {
        #"{"conversation_id":"container-\#(mark.prefix(1))","role":"user","message":"event \#(mark)","mark":"\#(mark)"}"#
    }

    /// How many delivered events carry `mark`.
    static func deliveries(of mark: String, in server: MockModaServer) -> Int {
        server.deliveredEvents.filter { $0.contains(#""mark":"\#(mark)""#) }.count
    }

    @Test(
        "kill -9 and a new container on the same volumes: every event acknowledged over HTTP and through the socket volume is delivered once"
    )
    func killedContainerLosesNothing() async throws {
        try await ContainerImage.build()
        let server = try await MockModaServer.start()
        // Nothing is delivered before the kill: whatever arrives afterwards came from the queue volume.
        server.respond(.always(.status(503, message: "Service temporarily unavailable", retryable: true)))
        let name = Self.uniqueName("kill")
        let queue = "\(name)-queue"
        let socket = "\(name)-sock"
        let volumes = ["\(queue):/var/lib/moda-agent", "\(socket):/run/moda-agent"]
        let overrides: [String: Any] = [
            "endpoint": server.endpoint,
            "delivery": ["retryInitialSeconds": 0.1, "retryMaxSeconds": 0.5],
            "batch": ["flushIntervalMs": 50],
        ]
        var containers: [AgentContainer] = []
        func cleanUp() async {
            for container in containers { await container.remove() }
            await Podman.remove(volumes: [queue, socket])
            try? await server.shutdown()
        }
        do {
            let first = try await AgentContainer.start(name: name, volumes: volumes, overrides: overrides)
            containers.append(first)
            #expect(await first.waitUntilStarted(), "\(Podman.logsNow(name))")
            let address = try #require(await first.httpAddress(), "\(Podman.logsNow(name))")
            let socketPath = try await AgentContainer.mountpoint(ofVolume: socket) + "/ingest.sock"

            var acknowledged: [String] = []
            let socketMarks = (1...60).map { "s-\($0)" }
            let replies = try UnixSocketClient.exchange(
                path: socketPath,
                socketMarks.map(Self.line).joined(separator: "\n") + "\n"
            )
            #expect(
                replies.count == socketMarks.count && replies.allSatisfy { $0.contains(#""ok":true"#) },
                "\(replies)"
            )
            acknowledged += zip(socketMarks, replies).filter { $0.1.contains(#""ok":true"#) }.map(\.0)
            for request in 1...6 {
                let marks = (1...10).map { "h-\(request)-\($0)" }
                let body = #"{"events":[\#(marks.map(Self.line).joined(separator: ","))]}"#
                let answer = try await first.post(body, to: address)
                #expect(answer.status == 200, "\(answer)")
                if answer.status == 200 { acknowledged += marks }
            }
            #expect(acknowledged.count == 120)
            #expect(await waitFor(timeout: .seconds(20)) { server.requestCount > 0 }, "no delivery attempt")

            try await Podman.require(["kill", "--signal", "KILL", name])
            #expect(await waitForAsync(timeout: .seconds(20)) { (try? await Podman.state(name).status) == "exited" })
            #expect(try await Podman.state(name).exitCode == 137)
            #expect(server.deliveredCount == 0)
            await first.remove()
            containers.removeAll()

            server.respond(.alwaysSuccess)
            let second = try await AgentContainer.start(name: name, volumes: volumes, overrides: overrides)
            containers.append(second)
            #expect(await second.waitUntilStarted(), "\(Podman.logsNow(name))")
            #expect(await server.waitForDeliveredCount(acknowledged.count, timeout: .seconds(60)))
            // Whatever is still on its way would show as a second delivery: wait until the queue is empty.
            let drained = await waitForAsync(timeout: .seconds(30), every: .milliseconds(250)) {
                guard let status = try? await Podman.require(["exec", name, "modactl", "status", "--json"]),
                    let json = try? JSONSerialization.jsonObject(with: Data(status.utf8)) as? [String: Any]
                else { return false }
                return (json["queue"] as? [String: Any])?["events"] as? Int == 0
            }
            #expect(drained, "queue not empty")
            let counts = acknowledged.map { Self.deliveries(of: $0, in: server) }
            #expect(
                counts.allSatisfy { $0 == 1 },
                "not delivered exactly once: \(zip(acknowledged, counts).filter { $0.1 != 1 })"
            )
            try await Podman.require(["stop", "--time", "10", name])
            #expect(try await Podman.state(name).exitCode == 0)
        } catch {
            await cleanUp()
            throw error
        }
        await cleanUp()
    }

    @Test(
        "SIGTERM with deliveries in flight: the container delivers what it acknowledged and exits 0 within podman stop's 10 seconds"
    )
    func sigtermDrains() async throws {
        try await ContainerImage.build()
        let server = try await MockModaServer.start()
        // Slow answers: batches are still in flight when the signal comes.
        server.respond(.always(.delay(0.5, then: .success)))
        let name = Self.uniqueName("term")
        let socket = "\(name)-sock"
        let queue = "\(name)-queue"
        let overrides: [String: Any] = ["endpoint": server.endpoint, "batch": ["maxEvents": 50]]
        var container: AgentContainer?
        func cleanUp() async {
            await container?.remove()
            await Podman.remove(volumes: [queue, socket])
            try? await server.shutdown()
        }
        do {
            let agent = try await AgentContainer.start(
                name: name,
                volumes: ["\(queue):/var/lib/moda-agent", "\(socket):/run/moda-agent"],
                overrides: overrides
            )
            container = agent
            #expect(await agent.waitUntilStarted(), "\(Podman.logsNow(name))")
            let socketPath = try await AgentContainer.mountpoint(ofVolume: socket) + "/ingest.sock"
            let marks = (1...200).map { "t-\($0)" }
            let replies = try UnixSocketClient.exchange(
                path: socketPath,
                marks.map(Self.line).joined(separator: "\n") + "\n"
            )
            #expect(replies.count == marks.count && replies.allSatisfy { $0.contains(#""ok":true"#) })
            #expect(await waitFor(timeout: .seconds(20)) { server.requestCount > 0 }, "no delivery under way")

            let clock = ContinuousClock()
            let began = clock.now
            try await Podman.require(["stop", "--time", "10", name], timeout: .seconds(30))
            let took = clock.now - began
            let state = try await Podman.state(name)
            #expect(state.exitCode == 0, "exit \(state.exitCode): \(Podman.logsNow(name))")
            #expect(took < .seconds(10), "stopping took \(took)")
            #expect(server.deliveredCount == marks.count, "\(server.deliveredCount) of \(marks.count) delivered")
            #expect(await Podman.logs(name).contains("delivery stopped; queue empty"), "\(Podman.logsNow(name))")
        } catch {
            await cleanUp()
            throw error
        }
        await cleanUp()
    }
}
