import Foundation
import ModaAgentTestSupport
import Testing

/// The daemon on a company network (docs/networks.md): a real HTTP proxy (Debian's tinyproxy on 127.0.0.1)
/// between it and a TLS mock of Moda whose certificate comes from a CA the test made with openssl.
@Suite("networks in between: a real proxy and a company CA", .serialized)
struct ProxyDeliveryTests {
    static let password = "pr0xy-hunter2-secret"

    /// A TLS upstream with its CA, and a folder for the proxy; everything stopped and removed afterwards.
    static func withTLSUpstream(
        _ body: (MockModaServer, TestCertificates, TemporaryDirectory) async throws -> Void
    ) async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let certificates = try await TestCertificates.make(in: directory)
        let mock = try await MockModaServer.start(tls: try certificates.serverConfiguration())
        do {
            try await body(mock, certificates, directory)
            try await mock.shutdown()
        } catch {
            try? await mock.shutdown()
            throw error
        }
    }

    static func withProxy(
        in directory: TemporaryDirectory,
        basicAuth: (user: String, password: String)? = nil,
        _ body: (TinyProxy) async throws -> Void
    ) async throws {
        let proxy = try await TinyProxy.start(in: directory, basicAuth: basicAuth)
        do {
            try await body(proxy)
            await proxy.stop()
        } catch {
            await proxy.stop()
            throw error
        }
    }

    static func authenticated(_ proxy: TinyProxy, password: String = password) -> String {
        "http://alice:\(password)@127.0.0.1:\(proxy.port)"
    }

    static func delivery(_ status: [String: Any], traces: Bool = false) -> [String: Any] {
        let section = traces ? (status["traces"] as? [String: Any])?["delivery"] : status["delivery"]
        return section as? [String: Any] ?? [:]
    }

    static func lastError(_ status: [String: Any], traces: Bool = false) -> String {
        (delivery(status, traces: traces)["lastError"] as? [String: Any])?["message"] as? String ?? ""
    }

    /// Everything an operator can see: the daemon's log, `status` in both forms, and `--check-config`.
    static func everythingShown(_ agent: AgentProcess) async throws -> String {
        let text = try await agent.modactl("status")
        let json = try await agent.modactl("status", "--json")
        let check = try await CommandRunner.run(
            BuiltProducts.agent,
            ["--check-config", "--config", agent.configPath],
            environment: ["MODA_API_KEY": agent.apiKey]
        )
        return [agent.log(), text.stdout, text.stderr, json.stdout, check.stdout, check.stderr].joined(separator: "\n")
    }

    /// Rewrites the running agent's config file (for a SIGHUP).
    static func editConfig(_ agent: AgentProcess, _ change: (inout [String: Any]) -> Void) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: agent.configPath))
        var config = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        change(&config)
        try AgentProcess.writeConfig(config, to: agent.configPath)
    }

    @Test("events and an OTLP export go through the proxy over HTTPS, trusted through caFile; credentials never shown")
    func throughProxyWithCAFile() async throws {
        try await Self.withTLSUpstream { mock, certificates, directory in
            try await Self.withProxy(in: directory, basicAuth: ("alice", Self.password)) { proxy in
                let overrides: [String: Any] = [
                    "endpoint": mock.endpoint,
                    "delivery": ["proxy": Self.authenticated(proxy), "caFile": certificates.caPath],
                    "http": ["listen": "127.0.0.1:0"],
                ]
                try await AgentProcess.with(overrides: overrides) { agent in
                    _ = try UnixSocketClient.exchange(path: agent.socketPath, lines(1...5))
                    #expect(await mock.waitForDeliveredCount(5, timeout: .seconds(30)), "\(agent.log())")
                    let host = try #require(await HTTPIngestTests.address(agent), "no receivers:\n\(agent.log())")
                    let export = try await HTTPTracesTests.post(
                        host,
                        body: HTTPTracesTests.request(["through-the-proxy"]),
                        headers: ["Content-Type: application/x-protobuf"],
                        directory: agent.directory
                    )
                    #expect(export.status == 200)
                    #expect(await waitFor(timeout: .seconds(30)) { mock.deliveredTraces.count == 1 }, "\(agent.log())")
                    #expect(mock.deliveredTraces.first.map { $0.bodyText.contains("through-the-proxy") } == true)

                    // Both went by CONNECT through the proxy; its credentials stayed with it.
                    #expect(proxy.connectTargets.contains("127.0.0.1:\(mock.port)"), "\(proxy.log())")
                    #expect(mock.requests.allSatisfy { $0.headers["proxy-authorization"] == nil })
                    #expect(mock.requests.allSatisfy { $0.headers["authorization"] == "Bearer \(agent.apiKey)" })
                    #expect(await waitForAsync { (try? await agent.deliveryState()) == "ok" })

                    let shown = try await Self.everythingShown(agent)
                    #expect(!shown.contains(Self.password), "the proxy's password was shown:\n\(shown)")
                    #expect(shown.contains("<redacted>@127.0.0.1:\(proxy.port)"), "\(shown)")
                    print("--check-config says: \(shown.split(separator: "\n").filter { $0.contains("events go") })")
                }
            }
        }
    }

    @Test("without caFile the endpoint is misconfigured naming the certificate problem; SIGHUP with caFile delivers")
    func untrustedCertificateThenReload() async throws {
        try await Self.withTLSUpstream { mock, certificates, directory in
            try await Self.withProxy(in: directory) { proxy in
                let overrides: [String: Any] = ["endpoint": mock.endpoint, "delivery": ["proxy": proxy.url]]
                try await AgentProcess.with(overrides: overrides) { agent in
                    _ = try UnixSocketClient.exchange(path: agent.socketPath, lines(1...3))
                    #expect(
                        await waitForAsync(timeout: .seconds(30)) {
                            (try? await agent.deliveryState()) == "misconfigured"
                        }
                    )
                    let status = try await agent.status()
                    let message = Self.lastError(status)
                    #expect(
                        message.contains("the TLS certificate of 127.0.0.1:\(mock.port) was rejected"),
                        "\(message)"
                    )
                    #expect(
                        message.contains("certificate verify failed") && message.contains("delivery.caFile"),
                        "\(message)"
                    )
                    #expect(mock.deliveredCount == 0)
                    #expect(try QueueSnapshot(path: agent.queuePath).events.count == 3)
                    let text = try await agent.modactl("status")
                    #expect(text.stdout.contains("misconfigured"), "\(text.stdout)")
                    print("status with an untrusted certificate: \(message)")

                    // The CA file added to the config: SIGHUP rebuilds the client and delivers at once.
                    try Self.editConfig(agent) { config in
                        var delivery = config["delivery"] as? [String: Any] ?? [:]
                        delivery["caFile"] = certificates.caPath
                        config["delivery"] = delivery
                    }
                    agent.signal(SIGHUP)
                    #expect(await mock.waitForDeliveredCount(3, timeout: .seconds(30)), "\(agent.log())")
                    #expect(agent.log().contains("proxy or CA file changed; HTTP clients rebuilt"))
                }
            }
        }
    }

    @Test("a changed CA file under the same path is picked up on SIGHUP")
    func changedCAFileContent() async throws {
        try await Self.withTLSUpstream { mock, certificates, directory in
            let other = try await TestCertificates.make(in: directory, name: "other")
            let caFile = directory.file("company-ca.pem")
            try Data(contentsOf: URL(fileURLWithPath: other.caPath)).write(to: URL(fileURLWithPath: caFile))
            let overrides: [String: Any] = ["endpoint": mock.endpoint, "delivery": ["caFile": caFile]]
            try await AgentProcess.with(overrides: overrides) { agent in
                _ = try UnixSocketClient.exchange(path: agent.socketPath, lines(1...2))
                #expect(
                    await waitForAsync(timeout: .seconds(30)) { (try? await agent.deliveryState()) == "misconfigured" }
                )
                try Data(contentsOf: URL(fileURLWithPath: certificates.caPath)).write(to: URL(fileURLWithPath: caFile))
                agent.signal(SIGHUP)
                #expect(await mock.waitForDeliveredCount(2, timeout: .seconds(30)), "\(agent.log())")
            }
        }
    }

    @Test("NO_PROXY exempts the events endpoint (sent directly) while trace exports to localhost use HTTPS_PROXY")
    func noProxyExempts() async throws {
        try await Self.withTLSUpstream { mock, certificates, directory in
            try await Self.withProxy(in: directory, basicAuth: ("alice", Self.password)) { proxy in
                let overrides: [String: Any] = [
                    "endpoint": mock.endpoint,
                    "tracesEndpoint": "https://localhost:\(mock.port)/v1/traces",
                    "delivery": ["caFile": certificates.caPath],
                    "http": ["listen": "127.0.0.1:0"],
                ]
                try await AgentProcess.with(overrides: overrides, start: false) { agent in
                    try await agent.start(extraEnvironment: [
                        "HTTPS_PROXY": Self.authenticated(proxy), "NO_PROXY": "example.org, 127.0.0.1",
                    ])
                    _ = try UnixSocketClient.exchange(path: agent.socketPath, lines(1...4))
                    #expect(await mock.waitForDeliveredCount(4, timeout: .seconds(30)), "\(agent.log())")
                    #expect(proxy.connectTargets.isEmpty, "the exempt endpoint went through the proxy:\n\(proxy.log())")

                    let host = try #require(await HTTPIngestTests.address(agent), "no receivers:\n\(agent.log())")
                    _ = try await HTTPTracesTests.post(
                        host,
                        body: HTTPTracesTests.request(["via-proxy"]),
                        headers: ["Content-Type: application/x-protobuf"],
                        directory: agent.directory
                    )
                    #expect(await waitFor(timeout: .seconds(30)) { mock.deliveredTraces.count == 1 }, "\(agent.log())")
                    #expect(proxy.connectTargets == ["localhost:\(mock.port)"], "\(proxy.log())")
                    let log = agent.log()
                    #expect(log.contains("events_route=direct"), "\(log)")
                    #expect(log.contains("through the proxy http://<redacted>@127.0.0.1:\(proxy.port) (HTTPS_PROXY)"))
                    #expect(!(try await Self.everythingShown(agent)).contains(Self.password))
                }
            }
        }
    }

    /// How the proxy fails, the proxy URL the agent is given, and what `lastError` must say.
    enum ProxyFault: String, CaseIterable, Sendable {
        case noCredentials, wrongCredentials, down, cannotReachUpstream
    }

    @Test(
        "a proxy that refuses (407, wrong password, down, 5xx to CONNECT) leaves events queued, status naming it",
        arguments: ProxyFault.allCases
    )
    func proxyRefuses(fault: ProxyFault) async throws {
        try await Self.withTLSUpstream { mock, certificates, directory in
            try await Self.withProxy(
                in: directory,
                basicAuth: fault == .cannotReachUpstream ? nil : ("alice", Self.password)
            ) {
                proxy in
                let proxyURL: String
                var endpoint = mock.endpoint
                switch fault {
                case .noCredentials: proxyURL = proxy.url
                case .wrongCredentials: proxyURL = Self.authenticated(proxy, password: "wrong-\(Self.password)")
                case .down: proxyURL = "http://alice:\(Self.password)@127.0.0.1:\(ClosedPort.port)"
                case .cannotReachUpstream:
                    proxyURL = proxy.url
                    endpoint = "https://127.0.0.1:\(ClosedPort.port)/v1/ingest"
                }
                let overrides: [String: Any] = [
                    "endpoint": endpoint, "delivery": ["proxy": proxyURL, "caFile": certificates.caPath],
                ]
                try await AgentProcess.with(overrides: overrides) { agent in
                    _ = try UnixSocketClient.exchange(path: agent.socketPath, lines(1...3))
                    let shownProxy = fault == .down ? "127.0.0.1:\(ClosedPort.port)" : "127.0.0.1:\(proxy.port)"
                    var message = ""
                    let named = await waitForAsync(timeout: .seconds(30)) {
                        guard let status = try? await agent.status() else { return false }
                        message = Self.lastError(status)
                        return Self.delivery(status)["state"] as? String == "retrying" && message.contains("the proxy")
                    }
                    #expect(named, "lastError: \(message)\n\(agent.log())")
                    #expect(
                        message.contains("@\(shownProxy) (delivery.proxy)")
                            || message.contains("http://\(shownProxy) (delivery.proxy)"),
                        "\(message)"
                    )
                    let expected =
                        switch fault {
                        case .noCredentials: "407 Proxy Authentication Required"
                        case .wrongCredentials, .cannotReachUpstream: "its answer to CONNECT was not 2xx"
                        case .down: "cannot connect to the proxy"
                        }
                    #expect(message.contains(expected), "\(message)")
                    #expect(!message.localizedCaseInsensitiveContains("moda"), "blames Moda: \(message)")
                    print("\(fault): \(message)")
                    #expect(mock.requestCount == 0)
                    #expect(try QueueSnapshot(path: agent.queuePath).events.count == 3)
                    #expect(agent.log().contains("the proxy"))
                    #expect(!(try await Self.everythingShown(agent)).contains(Self.password))

                    guard fault == .noCredentials else { return }
                    // The right credentials in the config: SIGHUP rebuilds the client and the queue drains.
                    try Self.editConfig(agent) { config in
                        var delivery = config["delivery"] as? [String: Any] ?? [:]
                        delivery["proxy"] = Self.authenticated(proxy)
                        config["delivery"] = delivery
                    }
                    agent.signal(SIGHUP)
                    #expect(await mock.waitForDeliveredCount(3, timeout: .seconds(30)), "\(agent.log())")
                    #expect(!(try await Self.everythingShown(agent)).contains(Self.password))
                }
            }
        }
    }

    @Test("--check-config: a missing caFile or a malformed HTTPS_PROXY is a config error (78) naming it")
    func checkConfigErrors() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let config = directory.file("config.json")
        let missing = directory.file("no-such-ca.pem")
        try AgentProcess.writeConfig(["delivery": ["caFile": missing]], to: config)
        let result = try await CommandRunner.run(
            BuiltProducts.agent,
            ["--check-config", "--config", config],
            environment: ["MODA_API_KEY": "k"]
        )
        #expect(result.status == 78)
        #expect(
            result.stderr.contains("delivery.caFile (\(missing)) cannot be read: No such file or directory"),
            "\(result.stderr)"
        )

        try AgentProcess.writeConfig([:], to: config)
        let badEnvironment = try await CommandRunner.run(
            BuiltProducts.agent,
            ["--check-config", "--config", config],
            environment: ["MODA_API_KEY": "k", "HTTPS_PROXY": "socks5://alice:\(Self.password)@127.0.0.1:1080"]
        )
        #expect(badEnvironment.status == 78)
        #expect(badEnvironment.stderr.contains("environment variable HTTPS_PROXY uses the scheme \"socks5://\""))
        #expect(!badEnvironment.stderr.contains(Self.password))
        let daemon = try await CommandRunner.run(
            BuiltProducts.agent,
            ["--config", config],
            environment: ["MODA_API_KEY": "k", "HTTPS_PROXY": "http://alice:\(Self.password)@:1"]
        )
        #expect(daemon.status == 78, "\(daemon.stderr)")
        #expect(daemon.stderr.contains("HTTPS_PROXY") && !daemon.stderr.contains(Self.password))
    }
}
