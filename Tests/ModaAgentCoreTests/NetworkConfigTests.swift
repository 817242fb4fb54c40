import Foundation
import ModaAgentTestSupport
import Testing

@testable import ModaAgentCore

/// `delivery.proxy`, the proxy environment, `NO_PROXY` and `delivery.caFile` as configuration: tables of
/// what each value means, and the errors (naming the key or variable, never the credentials).
@Suite("networks in between: proxy and CA configuration")
struct NetworkConfigTests {
    // MARK: - The proxy URL

    @Test(
        "delivery.proxy URLs that parse",
        arguments: [
            ("http://proxy.corp:3128", "proxy.corp", 3128, nil, nil, "http://proxy.corp:3128"),
            (
                "http://alice:s3cret@proxy.corp:3128", "proxy.corp", 3128, "alice", "s3cret",
                "http://<redacted>@proxy.corp:3128"
            ),
            ("HTTP://Proxy.Corp:8080/", "proxy.corp", 8080, nil, nil, "http://proxy.corp:8080"),
            ("http://a%40b:p%3Ass@10.0.0.1:80", "10.0.0.1", 80, "a@b", "p:ss", "http://<redacted>@10.0.0.1:80"),
            ("http://[::1]:3128", "::1", 3128, nil, nil, "http://[::1]:3128"),
            ("http://bob@proxy:1", "proxy", 1, "bob", "", "http://<redacted>@proxy:1"),
            ("http://u:p@ss@proxy:3128", "proxy", 3128, "u", "p@ss", "http://<redacted>@proxy:3128"),
        ] as [(String, String, Int, String?, String?, String)]
    )
    func proxyURLs(text: String, host: String, port: Int, user: String?, password: String?, shown: String) throws {
        let proxy = try ProxyServer.parse(text, lenient: false)
        #expect(proxy.host == host && proxy.port == port)
        #expect(proxy.username == user && proxy.password == password)
        #expect(proxy.description == shown)
    }

    @Test(
        "bad delivery.proxy URLs are config errors naming the key, never the credentials",
        arguments: [
            ("proxy.corp:3128", "must start with http://"),
            ("https://proxy.corp:3128", "only http:// proxies are supported"),
            ("socks5://proxy.corp:1080", "only http:// proxies are supported"),
            ("http://proxy.corp", "has no port"),
            ("http://user:hunter2@proxy.corp", "has no port"),
            ("http://user:hunter2@proxy.corp:99999", "it must be a number from 1 to 65535"),
            ("http://user:hunter2@proxy.corp:http", "it must be a number from 1 to 65535"),
            ("http://:3128", "has no host"),
            ("http://proxy.corp:3128/path", "must not have a path"),
            ("http://::1:3128", "put it in brackets"),
            ("http://us%zzer:hunter2@proxy:1", "malformed %-escape"),
            ("", "is empty"),
        ]
    )
    func badProxyURLs(text: String, reason: String) throws {
        let json = #"{"delivery":{"proxy":"\#(text)"}}"#
        #expect(throws: ConfigError.self) {
            try ConfigLoader.parse(Data(json.utf8), path: "/etc/moda-agent/config.json")
        }
        do {
            _ = try ConfigLoader.parse(Data(json.utf8), path: "/etc/moda-agent/config.json")
        } catch {
            let message = "\(error)"
            #expect(message.contains("config file /etc/moda-agent/config.json: delivery.proxy"), "\(message)")
            #expect(message.contains(reason), "\(message)")
            #expect(!message.contains("hunter2"), "\(message)")
        }
    }

    @Test("the environment is read as curl does: scheme and port may be left out")
    func lenientEnvironmentURLs() throws {
        #expect(try ProxyServer.parse("proxy.corp:3128", lenient: true) == ProxyServer(host: "proxy.corp", port: 3128))
        #expect(try ProxyServer.parse("http://proxy.corp", lenient: true).port == 1080)
        #expect(try ProxyServer.parse(" http://proxy.corp:8080/ \n", lenient: true).port == 8080)
    }

    @Test("delivery.proxy and delivery.caFile in --check-config's JSON: the proxy redacted")
    func effectiveJSON() throws {
        let json = #"{"delivery":{"proxy":"http://alice:hunter2@proxy.corp:3128","caFile":"/etc/ssl/corp.pem"}}"#
        let config = try ConfigLoader.parse(Data(json.utf8), path: "c.json")
        let shown = config.effectiveJSON()
        #expect(
            shown.contains(#""proxy" : "http:\/\/<redacted>@proxy.corp:3128""#)
                || shown.contains("<redacted>@proxy.corp:3128")
        )
        #expect(shown.contains("/etc/ssl/corp.pem") || shown.contains(#"\/etc\/ssl\/corp.pem"#))
        #expect(!shown.contains("hunter2") && !shown.contains("alice"))
        let defaults = AgentConfig().effectiveJSON()
        #expect(defaults.contains(#""proxy" : null"#) && defaults.contains(#""caFile" : null"#), "\(defaults)")
    }

    // MARK: - NO_PROXY

    @Test(
        "NO_PROXY matching (host, port, rule → exempt)",
        arguments: [
            ("moda.example.com", 443, "moda.example.com", true),
            ("moda.example.com", 443, "example.com", true),
            ("moda.example.com", 443, ".example.com", true),
            ("example.com", 443, ".example.com", true),
            ("moda.example.com", 443, "*.example.com", true),
            ("badexample.com", 443, "example.com", false),
            ("badexample.com", 443, ".example.com", false),
            ("example.com.evil.net", 443, "example.com", false),
            ("MODA.Example.COM.", 443, "example.com", true),
            ("moda.example.com", 443, "EXAMPLE.com.", true),
            ("anything.at.all", 443, "*", true),
            ("moda.example.com", 443, "other.org, example.com", true),
            ("moda.example.com", 443, "other.org,,  example.com ", true),
            ("moda.example.com", 443, "other.org example.com", true),
            ("moda.example.com", 443, "other.org", false),
            ("moda.example.com", 443, "", false),
            ("moda.example.com", 443, "example.com:443", true),
            ("moda.example.com", 8443, "example.com:443", false),
            ("127.0.0.1", 8443, "127.0.0.1", true),
            ("127.0.0.1", 8443, "127.0.0.1:8443", true),
            ("127.0.0.1", 8443, "127.0.0.1:9", false),
            ("127.0.0.10", 443, "127.0.0.1", false),
            ("10.127.0.0.1", 443, "127.0.0.1", false),
            ("::1", 443, "::1", true),
            ("::1", 443, "[::1]", true),
            ("[::1]", 443, "[::1]:443", true),
            ("::1", 8443, "[::1]:443", false),
            ("localhost", 443, "127.0.0.1", false),
            ("moda.example.com", 443, "*example.com", false),
        ] as [(String, Int, String, Bool)]
    )
    func noProxy(host: String, port: Int, rule: String, exempt: Bool) {
        #expect(NoProxyList(rule).exempts(host: host, port: port) == exempt, "\(rule) for \(host):\(port)")
    }

    // MARK: - Which proxy for which endpoint

    static let proxyA = ProxyServer(host: "a.corp", port: 3128)
    static let proxyB = ProxyServer(host: "b.corp", port: 8080)

    @Test(
        "routes: delivery.proxy takes every request; the environment by scheme, minus NO_PROXY",
        arguments: [
            // explicit, environment, endpoint → proxy host and setting, or nil for direct
            (true, [:], "https://moda.example.com/v1/ingest", "a.corp", "delivery.proxy"),
            (true, ["NO_PROXY": "*"], "http://127.0.0.1:9/v1/ingest", "a.corp", "delivery.proxy"),
            (false, [:], "https://moda.example.com/v1/ingest", nil, nil),
            (
                false, ["HTTPS_PROXY": "http://b.corp:8080"], "https://moda.example.com/v1/ingest", "b.corp",
                "HTTPS_PROXY"
            ),
            (
                false, ["https_proxy": "http://b.corp:8080", "HTTPS_PROXY": "http://x:1"], "https://m.io/", "b.corp",
                "https_proxy"
            ),
            (false, ["HTTPS_PROXY": "http://b.corp:8080"], "http://moda.example.com/v1/ingest", nil, nil),
            (false, ["HTTP_PROXY": "b.corp:8080"], "http://moda.example.com/v1/ingest", "b.corp", "HTTP_PROXY"),
            (false, ["http_proxy": "b.corp:8080"], "https://moda.example.com/v1/ingest", nil, nil),
            (
                false, ["HTTPS_PROXY": "http://b.corp:8080", "NO_PROXY": ".example.com"], "https://moda.example.com/",
                nil, nil
            ),
            (
                false, ["HTTPS_PROXY": "http://b.corp:8080", "no_proxy": "example.com"], "https://moda.example.com/",
                nil, nil
            ),
            (
                false, ["HTTPS_PROXY": "http://b.corp:8080", "NO_PROXY": "other.org"], "https://moda.example.com/",
                "b.corp", "HTTPS_PROXY"
            ),
            (false, ["HTTPS_PROXY": " "], "https://moda.example.com/", nil, nil),
        ] as [(Bool, [String: String], String, String?, String?)]
    )
    func routes(explicit: Bool, environment: [String: String], endpoint: String, host: String?, setting: String?) throws
    {
        let choice = try ProxyChoice.resolve(
            explicit: explicit ? Self.proxyA : nil,
            environment: environment,
            endpoints: [endpoint]
        )
        switch choice.route(for: endpoint) {
        case .direct:
            #expect(host == nil, "\(endpoint) went direct")
        case .proxy(let proxy, let via):
            #expect(proxy.host == host && via == setting, "\(endpoint) went through \(proxy) (\(via))")
        }
    }

    @Test("the events endpoint and tracesEndpoint may get different decisions")
    func differentDecisions() throws {
        var config = AgentConfig()
        config.endpoint = "https://127.0.0.1:8443/v1/ingest"
        config.tracesEndpoint = "https://localhost:8443/v1/traces"
        let network = try UpstreamNetwork.load(
            config: config,
            configPath: "c.json",
            environment: ["HTTPS_PROXY": "http://u:hunter2@b.corp:8080", "NO_PROXY": "127.0.0.1"]
        )
        #expect(network.proxies.route(for: config.endpoint) == .direct)
        #expect(network.proxies.route(for: config.effectiveTracesEndpoint).proxy?.host == "b.corp")
        let summary = network.summary(config: config)
        #expect(
            summary
                == "events go direct; trace exports go through the proxy http://<redacted>@b.corp:8080 (HTTPS_PROXY)"
        )
    }

    @Test("a malformed proxy variable is a config error naming it, only when its scheme is used")
    func badEnvironment() throws {
        let https = ["endpoint": "https://m.io/v1/ingest"]
        #expect(
            throws: ConfigError.invalidEnvironment(
                name: "HTTPS_PROXY",
                reason: "has no host; write it as http://[user:pass@]host:port"
            )
        ) {
            try ProxyChoice.resolve(
                explicit: nil,
                environment: ["HTTPS_PROXY": "http://u:hunter2@:8"],
                endpoints: [https["endpoint"]!]
            )
        }
        let error = ConfigError.invalidEnvironment(name: "HTTPS_PROXY", reason: "is bad")
        #expect("\(error)".hasPrefix("environment variable HTTPS_PROXY is bad."))
        // http_proxy is not read for https endpoints, so its fault does not matter.
        let fine = try ProxyChoice.resolve(
            explicit: nil,
            environment: ["http_proxy": "socks5://x:1"],
            endpoints: ["https://m.io/v1/ingest"]
        )
        #expect(fine.route(for: "https://m.io/v1/ingest") == .direct)
    }

    // MARK: - delivery.caFile

    @Test("caFile: a missing, unreadable, empty or non-PEM file is a config error naming it")
    func badCAFiles() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let empty = directory.file("empty.pem")
        let garbage = directory.file("garbage.pem")
        try Data().write(to: URL(fileURLWithPath: empty))
        try Data("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n".utf8)
            .write(to: URL(fileURLWithPath: garbage))
        let cases: [(String, String)] = [
            (directory.file("missing.pem"), "cannot be read: No such file or directory"),
            (directory.path, "cannot be read"),
            (empty, "holds no PEM certificate"),
            (garbage, "is not a PEM certificate file"),
        ]
        for (path, reason) in cases {
            var config = AgentConfig()
            config.delivery.caFile = path
            do {
                _ = try UpstreamNetwork.load(
                    config: config,
                    configPath: "/etc/moda-agent/config.json",
                    environment: [:]
                )
                Issue.record("\(path) was accepted")
            } catch {
                let message = "\(error)"
                #expect(
                    message.hasPrefix("config file /etc/moda-agent/config.json: delivery.caFile (\(path))"),
                    "\(message)"
                )
                #expect(message.contains(reason), "\(message)")
            }
        }
        #expect(throws: ConfigError.self) {
            try ConfigLoader.parse(Data(#"{"delivery":{"caFile":""}}"#.utf8), path: "c")
        }
    }

    @Test("caFile: every certificate of a PEM bundle is trusted, and a changed file is a changed network")
    func caBundle() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let first = try await TestCertificates.make(in: directory, name: "one")
        let second = try await TestCertificates.make(in: directory, name: "two")
        let bundle = directory.file("bundle.pem")
        let both =
            try String(contentsOfFile: first.caPath, encoding: .utf8)
            + String(contentsOfFile: second.caPath, encoding: .utf8)
        try Data(both.utf8).write(to: URL(fileURLWithPath: bundle))
        var config = AgentConfig()
        config.delivery.caFile = bundle
        let network = try UpstreamNetwork.load(config: config, configPath: "c.json", environment: [:])
        #expect(network.trustRoots.count == 2)
        #expect(network.tlsConfiguration != nil)
        #expect(network.summary(config: config).hasSuffix("2 extra CA certificate(s) trusted from \(bundle)"))
        try Data(contentsOf: URL(fileURLWithPath: first.caPath)).write(to: URL(fileURLWithPath: bundle))
        let changed = try UpstreamNetwork.load(config: config, configPath: "c.json", environment: [:])
        #expect(changed != network && changed.trustRoots.count == 1)
        #expect(UpstreamNetwork.direct.tlsConfiguration == nil)
    }
}
