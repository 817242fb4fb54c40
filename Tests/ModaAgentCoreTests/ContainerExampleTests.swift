import Foundation
import ModaAgentTestSupport
import Testing

/// The deployments docs/containers.md shows, run as written but for what a test must change: the image tag, the
/// endpoint (the mock on 127.0.0.1, so the pods share the host's network) and the receivers' ports (any free one).
extension ContainerTests {
    static let examples = "\(ContainerImage.packageRoot)/examples"

    static func read(_ path: String) throws -> String {
        try String(contentsOfFile: path, encoding: .utf8)
    }

    /// A manifest as the tests play it: their image and upstream, free ports, the host's network
    /// (Tests/system/kube-play-prepare.py, which also turns a DaemonSet into the Pod it runs on a node).
    static func prepareManifest(
        _ text: String,
        endpoint: String,
        replacing extra: [(String, String)] = []
    )
        async throws -> String
    {
        var text = text
        let replacements =
            [
                ("localhost/moda-agent:latest", ContainerImage.tag),
                ("https://moda-ingest.modas.workers.dev/v1/ingest", endpoint),
                ("0.0.0.0:4318", "127.0.0.1:0"), ("0.0.0.0:9810", "127.0.0.1:0"),
            ] + extra
        for (from, to) in replacements {
            #expect(text.contains(from), "the manifest no longer contains \(from)")
            text = text.replacingOccurrences(of: from, with: to)
        }
        let prepared = try await CommandRunner.run(
            "/usr/bin/python3",
            ["\(ContainerImage.packageRoot)/Tests/system/kube-play-prepare.py", "--host-network"],
            stdin: text
        )
        guard prepared.status == 0 else {
            throw PodmanError.failed(
                command: ["kube-play-prepare.py"],
                status: prepared.status,
                stderr: prepared.stderr
            )
        }
        return prepared.stdout
    }

    /// The Secret the manifests read the key from (`kubectl create secret generic moda-api-key
    /// --from-literal=api-key=...`), as podman keeps one: a JSON object of base64 values.
    static func createKeySecret(_ key: String, in directory: TemporaryDirectory) async throws {
        let file = directory.file("secret.json")
        try Data(#"{"api-key":"\#(Data(key.utf8).base64EncodedString())"}"#.utf8).write(to: URL(fileURLWithPath: file))
        await Podman.remove(secrets: ["moda-api-key"])
        try await Podman.require(["secret", "create", "moda-api-key", file])
    }

    @Test(
        "examples/kubernetes/sidecar.yaml with podman kube play: the event the app container sends through the socket volume is delivered"
    )
    func sidecarPod() async throws {
        try await ContainerImage.build()
        let server = try await MockModaServer.start()
        let directory = TemporaryDirectory()
        let manifest = directory.file("sidecar.yaml")
        // Named volumes podman makes for the claim and the ConfigMaps.
        let volumes = ["moda-agent-queue", "moda-agent-config", "chat-app-demo-event"]
        func cleanUp() async {
            // Containers first, with the anonymous volume the image declares for its queue folder.
            await Podman.remove(containers: ["chat-app-app", "chat-app-moda-agent"])
            _ = try? await Podman.run(["kube", "down", manifest])
            await Podman.remove(pods: ["chat-app"], volumes: volumes, secrets: ["moda-api-key"])
            directory.remove()
            try? await server.shutdown()
        }
        await Podman.remove(pods: ["chat-app"], volumes: volumes)
        do {
            let text = try await Self.prepareManifest(
                try Self.read("\(Self.examples)/kubernetes/sidecar.yaml"),
                endpoint: server.endpoint
            )
            try Data(text.utf8).write(to: URL(fileURLWithPath: manifest))
            try await Self.createKeySecret("sidecar-test-key", in: directory)
            try await Podman.require(["kube", "play", manifest], timeout: .seconds(180))
            let delivered = await waitFor(timeout: .seconds(60)) {
                server.deliveredEvents.contains { $0.contains("hello from the app container") }
            }
            #expect(
                delivered,
                "agent:\n\(Podman.logsNow("chat-app-moda-agent"))\napp:\n\(Podman.logsNow("chat-app-app"))"
            )
            #expect(server.requests.first?.headers["authorization"] == "Bearer sidecar-test-key")
            #expect(try await Podman.state("chat-app-app").exitCode == 0)
        } catch {
            await cleanUp()
            throw error
        }
        await cleanUp()
    }

    @Test(
        "examples/kubernetes/daemonset.yaml, its pod played with podman kube play (podman 4.3 plays no DaemonSet): an event sent on the node through the hostPath socket is delivered; the queue is on the node's disk"
    )
    func daemonSetPod() async throws {
        try await ContainerImage.build()
        let server = try await MockModaServer.start()
        let directory = TemporaryDirectory()
        let hostSocket = TemporaryDirectory()
        let hostQueue = TemporaryDirectory()
        let manifest = directory.file("daemonset.yaml")
        func cleanUp() async {
            await Podman.remove(containers: ["moda-agent-moda-agent"])
            _ = try? await Podman.run(["kube", "down", manifest])
            await Podman.remove(pods: ["moda-agent"], volumes: ["moda-agent-config"], secrets: ["moda-api-key"])
            for folder in [directory, hostSocket, hostQueue] { folder.remove() }
            try? await server.shutdown()
        }
        await Podman.remove(pods: ["moda-agent"], volumes: ["moda-agent-config"])
        do {
            let text = try await Self.prepareManifest(
                try Self.read("\(Self.examples)/kubernetes/daemonset.yaml"),
                endpoint: server.endpoint,
                replacing: [
                    ("path: /run/moda-agent,", "path: \(hostSocket.path),"),
                    ("path: /var/lib/moda-agent,", "path: \(hostQueue.path),"),
                ]
            )
            try Data(text.utf8).write(to: URL(fileURLWithPath: manifest))
            try await Self.createKeySecret("daemonset-test-key", in: directory)
            try await Podman.require(["kube", "play", manifest], timeout: .seconds(180))
            let socket = hostSocket.file("ingest.sock")
            #expect(
                await waitFor(timeout: .seconds(30)) { UnixSocketClient.canConnect(socket) },
                "\(Podman.logsNow("moda-agent-moda-agent"))"
            )
            let replies = try UnixSocketClient.exchange(path: socket, Self.line("node-1") + "\n")
            #expect(replies.first?.contains(#""ok":true"#) == true, "\(replies)")
            #expect(await waitFor(timeout: .seconds(30)) { Self.deliveries(of: "node-1", in: server) == 1 })
            #expect(server.requests.first?.headers["authorization"] == "Bearer daemonset-test-key")
            #expect(FileManager.default.fileExists(atPath: hostQueue.file("queue.db")))
        } catch {
            await cleanUp()
            throw error
        }
        await cleanUp()
    }

    @Test(
        "examples/compose with podman-compose: the app's event goes through the socket volume into the queue volume, which survives compose down and is delivered by the next agent"
    )
    func compose() async throws {
        try await ContainerImage.build()
        let server = try await MockModaServer.start()
        let project = Self.uniqueName("compose")
        let directory = TemporaryDirectory()
        for file in ["compose.yaml", "moda-agent.json", "event.jsonl"] {
            try FileManager.default.copyItem(atPath: "\(Self.examples)/compose/\(file)", toPath: directory.file(file))
        }
        // Delivery goes nowhere in the compose network (nothing listens on its loopback): the event waits.
        var config = try Self.read(directory.file("moda-agent.json"))
        config = config.replacingOccurrences(
            of: "https://moda-ingest.modas.workers.dev/v1/ingest",
            with: ClosedPort.endpoint
        )
        try Data(config.utf8).write(to: URL(fileURLWithPath: directory.file("moda-agent.json")))
        chmod(directory.path, 0o755)
        let compose = ["/usr/bin/podman-compose", "-p", project, "-f", directory.file("compose.yaml")]
        let environment = Podman.environment.merging([
            "MODA_API_KEY": "compose-key", "MODA_AGENT_IMAGE": ContainerImage.tag,
        ]) { $1 }
        let queueVolume = "\(project)_agent-queue"
        var later: AgentContainer?
        let containers = ["\(project)_app_1", "\(project)_moda-agent_1"]
        func cleanUp() async {
            // Containers first, with the anonymous volume the image declares for its queue folder (compose down
            // keeps volumes).
            await Podman.remove(containers: containers)
            _ = try? await CommandRunner.run(
                compose[0],
                Array(compose.dropFirst()) + ["down"],
                environment: environment
            )
            await later?.remove()
            await Podman.remove(volumes: [queueVolume, "\(project)_agent-socket"])
            _ = try? await Podman.run(["network", "rm", "\(project)_default"])
            directory.remove()
            try? await server.shutdown()
        }
        do {
            let up = try await CommandRunner.run(
                compose[0],
                Array(compose.dropFirst()) + ["up", "-d"],
                environment: environment,
                timeout: .seconds(180)
            )
            #expect(up.status == 0, "\(up.stdout)\n\(up.stderr)")
            let app = "\(project)_app_1"
            let sent = await waitForAsync(timeout: .seconds(60), every: .milliseconds(500)) {
                guard let state = try? await Podman.state(app) else { return false }
                return state.status == "exited" && state.exitCode == 0
            }
            #expect(sent, "app:\n\(Podman.logsNow(app))")
            #expect(await Podman.logs(app).contains("1 event queued"))
            let status = try await Podman.require(["exec", "\(project)_moda-agent_1", "modactl", "status", "--json"])
            let json = try JSONSerialization.jsonObject(with: Data(status.utf8)) as? [String: Any]
            #expect((json?["queue"] as? [String: Any])?["events"] as? Int == 1, "\(status)")

            await Podman.remove(containers: [app])
            let down = try await CommandRunner.run(
                compose[0],
                Array(compose.dropFirst()) + ["down"],
                environment: environment,
                timeout: .seconds(120)
            )
            #expect(down.status == 0, "\(down.stderr)")
            let agent = try await AgentContainer.start(
                name: Self.uniqueName("after-compose"),
                volumes: ["\(queueVolume):/var/lib/moda-agent"],
                overrides: ["endpoint": server.endpoint]
            )
            later = agent
            #expect(
                await waitFor(timeout: .seconds(30)) {
                    server.deliveredEvents.contains { $0.contains("compose-demo") }
                },
                "\(Podman.logsNow(agent.name))"
            )
        } catch {
            await cleanUp()
            throw error
        }
        await cleanUp()
    }
}
