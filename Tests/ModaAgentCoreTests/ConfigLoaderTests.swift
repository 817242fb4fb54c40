import Foundation
import Testing

@testable import ModaAgentCore

@Suite("config loading")
struct ConfigLoaderTests {
    private func parse(_ json: String) throws(ConfigError) -> AgentConfig {
        try ConfigLoader.parse(Data(json.utf8), path: "/etc/moda-agent/config.json")
    }

    private func error(_ json: String) -> ConfigError? {
        do {
            _ = try parse(json)
            return nil
        } catch {
            return error
        }
    }

    @Test("an empty object gives every documented default")
    func defaults() throws {
        let config = try parse("{}")
        #expect(config == AgentConfig())
        #expect(config.endpoint == "https://moda-ingest.modas.workers.dev/v1/ingest")
        #expect(config.socket.path == "/run/moda-agent/ingest.sock")
        #expect(config.socket.modeBits == 0o660)
        #expect(
            config.queue.maxBytes == 1_073_741_824 && config.queue.whenFull == .reject
                && config.queue.durability == .full
        )
        #expect(config.batch.maxEvents == 1000 && config.batch.maxBytes == 5_000_000)
        #expect(config.batch.maxEventBytes == 102_400 && config.batch.flushIntervalMs == 1000)
        #expect(config.delivery.retryInitialSeconds == 1 && config.delivery.retryMaxSeconds == 30)
        #expect(config.delivery.drainTimeoutSeconds == 10 && config.delivery.maxInFlight == 8)
        #expect(config.memory.maxBufferedBytes == 67_108_864)
    }

    @Test("config.example.json parses and matches the defaults")
    func exampleFile() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let data = try Data(contentsOf: root.appendingPathComponent("config.example.json"))
        var config = try ConfigLoader.parse(data, path: "config.example.json")
        config.apiKeyFile = AgentConfig().apiKeyFile
        // docs/configuration.md: the example turns the monitoring listener and the HTTP receivers on, on loopback.
        #expect(config.monitoring.listen == ListenAddress(host: "127.0.0.1", port: 9810))
        config.monitoring.listen = nil
        #expect(config.http.listen == .tcp(ListenAddress(host: "127.0.0.1", port: 4318)))
        config.http.listen = nil
        // docs/redaction.md: the example turns on secrets and payment_card.
        #expect(config.redaction.detectors == [.secrets, .paymentCard])
        config.redaction.detectors = []
        #expect(config == AgentConfig())
    }

    @Test("monitoring.listen: IPv4, [IPv6] and localhost with a port")
    func listenAddresses() throws {
        #expect(try parse(#"{"monitoring":{"listen":"127.0.0.1:9810"}}"#).monitoring.listen?.port == 9810)
        let six = try parse(#"{"monitoring":{"listen":"[::1]:9810"}}"#).monitoring.listen
        #expect(six?.host == "::1" && six?.description == "[::1]:9810")
        #expect(try parse(#"{"monitoring":{"listen":"localhost:1"}}"#).monitoring.listen?.host == "localhost")
        #expect(try parse(#"{"monitoring":{"listen":null}}"#).monitoring.listen == nil)
        #expect(try parse(#"{"http":{"listen":"unix:/run/x.sock"}}"#).http.listen == .unix("/run/x.sock"))
        #expect(try parse(#"{"http":{"listen":"127.0.0.1:4318"}}"#).http.listen?.description == "127.0.0.1:4318")
        let withToken = try parse(#"{"http":{"token":"t0ken"}}"#)
        #expect(withToken.http.token == "t0ken" && !withToken.effectiveJSON().contains("t0ken"))
    }

    @Test("fractional durations are accepted")
    func fractions() throws {
        let config = try parse(
            #"{"delivery":{"retryInitialSeconds":0.25,"retryMaxSeconds":0.5},"batch":{"flushIntervalMs":0.5}}"#
        )
        #expect(config.delivery.retryInitialSeconds == 0.25)
        #expect(config.batch.flushIntervalMs == 0.5)
    }

    @Test(
        "unknown keys are refused with their dotted path",
        arguments: [
            (#"{"endpont":"x"}"#, "endpont"),
            (#"{"socket":{"pathh":"/x"}}"#, "socket.pathh"),
            (#"{"batch":{"maxEvent":3}}"#, "batch.maxEvent"),
            (#"{"log":{"level":"info","format":"json"}}"#, "log.format"),
            (#"{"memory":{"maxBufferBytes":1048576}}"#, "memory.maxBufferBytes"),
        ]
    )
    func unknownKeys(json: String, key: String) {
        guard case .unknownKey(_, let reported, _)? = error(json) else {
            Issue.record("expected an unknown-key error for \(key)")
            return
        }
        #expect(reported == key)
        #expect(error(json)?.description.contains("unknown key \"\(key)\"") == true)
    }

    @Test(
        "wrong types and out-of-range values name the key",
        arguments: [
            (#"{"batch":{"maxEvents":1001}}"#, "batch.maxEvents"),
            (#"{"batch":{"maxEvents":0}}"#, "batch.maxEvents"),
            (#"{"batch":{"maxBytes":5000001}}"#, "batch.maxBytes"),
            (#"{"batch":{"maxEvents":"10"}}"#, "batch.maxEvents"),
            (#"{"batch":{"maxEvents":true}}"#, "batch.maxEvents"),
            (#"{"batch":{"maxEvents":10.5}}"#, "batch.maxEvents"),
            (#"{"queue":{"whenFull":"block"}}"#, "queue.whenFull"),
            (#"{"queue":{"durability":"none"}}"#, "queue.durability"),
            (#"{"socket":{"mode":"rw-rw----"}}"#, "socket.mode"),
            (#"{"socket":"/tmp/x.sock"}"#, "socket"),
            (#"{"delivery":{"retryInitialSeconds":5,"retryMaxSeconds":1}}"#, "delivery.retryMaxSeconds"),
            (#"{"delivery":{"timeoutSeconds":0}}"#, "delivery.timeoutSeconds"),
            (#"{"log":{"level":"loud"}}"#, "log.level"),
            (#"{"endpoint":"ftp://x"}"#, "endpoint"),
            (#"{"environment":5}"#, "environment"),
            (#"{"monitoring":{"listen":"9810"}}"#, "monitoring.listen"),
            (#"{"monitoring":{"listen":"[::1:9810"}}"#, "monitoring.listen"),
            (#"{"monitoring":{"listen":"localhost:70000"}}"#, "monitoring.listen"),
            (#"{"monitoring":{"listen":9810}}"#, "monitoring.listen"),
            (#"{"http":{"listen":"4318"}}"#, "http.listen"),
            (#"{"http":{"listen":"unix:"}}"#, "http.listen"),
            (#"{"http":{"token":""}}"#, "http.token"),
            (#"{"http":{"maxBodyBytes":10}}"#, "http.maxBodyBytes"),
            (#"{"memory":{"maxBufferedBytes":1000}}"#, "memory.maxBufferedBytes"),
            (#"{"memory":{"maxBufferedBytes":"64M"}}"#, "memory.maxBufferedBytes"),
            (#"{"memory":64}"#, "memory"),
        ]
    )
    func invalidValues(json: String, key: String) {
        guard case .invalidValue(_, let reported, _)? = error(json) else {
            Issue.record("expected an invalid-value error for \(key), got \(String(describing: error(json)))")
            return
        }
        #expect(reported == key)
    }

    @Test("batch.maxEvents 1001 says why")
    func maxEventsMessage() {
        let message = error(#"{"batch":{"maxEvents":1001}}"#)?.description ?? ""
        #expect(message.contains("batch.maxEvents is 1001"))
        #expect(message.contains("at most 1000 events per request"))
    }

    @Test("malformed JSON and a missing file are configuration errors that name the file")
    func malformedAndMissing() {
        #expect(error("{\"endpoint\": ")?.description.contains("/etc/moda-agent/config.json is not valid JSON") == true)
        do {
            _ = try ConfigLoader.load(path: "/nonexistent/moda/config.json")
            Issue.record("a missing file must fail")
        } catch {
            #expect(error.description.contains("cannot read config file /nonexistent/moda/config.json"))
        }
    }

    @Test("the config path: --config, then MODA_AGENT_CONFIG, then the default")
    func pathResolution() {
        #expect(ConfigLoader.resolvePath(flag: "/a.json", environment: ["MODA_AGENT_CONFIG": "/b.json"]) == "/a.json")
        #expect(ConfigLoader.resolvePath(flag: nil, environment: ["MODA_AGENT_CONFIG": "/b.json"]) == "/b.json")
        #expect(ConfigLoader.resolvePath(flag: nil, environment: [:]) == "/etc/moda-agent/config.json")
    }

    @Test("the effective config never holds the API key")
    func effectiveConfigRedactsKey() throws {
        let config = try parse(#"{"apiKey":"sk-live-very-secret"}"#)
        let json = config.effectiveJSON()
        #expect(!json.contains("sk-live-very-secret"))
        #expect(json.contains("<redacted>"))
        #expect(json.contains("\"maxBufferedBytes\" : 67108864"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(
            Set(object.keys) == [
                "endpoint", "apiKeyFile", "apiKey", "environment", "socket", "queue", "batch", "delivery",
                "http", "tracesEndpoint", "monitoring", "memory", "redaction", "trace", "log",
            ]
        )
        #expect(json.contains("\"retentionHours\" : 168") && json.contains("\"maxBytes\" : 16777216"))
    }
}

@Suite("API key sources")
struct APIKeyResolverTests {
    @Test("precedence: MODA_API_KEY > systemd credential > apiKeyFile > apiKey literal")
    func precedence() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("moda-key-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let credentials = folder.appendingPathComponent("creds")
        try FileManager.default.createDirectory(at: credentials, withIntermediateDirectories: true)
        try "credential-key\n".write(
            to: credentials.appendingPathComponent("api-key"),
            atomically: true,
            encoding: .utf8
        )
        let keyFile = folder.appendingPathComponent("api-key")
        try "  file-key \n".write(to: keyFile, atomically: true, encoding: .utf8)
        var config = AgentConfig()
        config.apiKeyFile = keyFile.path
        config.apiKey = "literal-key"

        let all = ["MODA_API_KEY": "env-key", "CREDENTIALS_DIRECTORY": credentials.path]
        #expect(
            try APIKeyResolver.resolve(config: config, environment: all) == .init(key: "env-key", source: .environment)
        )
        #expect(
            try APIKeyResolver.resolve(config: config, environment: ["CREDENTIALS_DIRECTORY": credentials.path])
                == .init(key: "credential-key", source: .credential)
        )
        #expect(try APIKeyResolver.resolve(config: config, environment: [:]) == .init(key: "file-key", source: .file))
        config.apiKeyFile = folder.appendingPathComponent("missing").path
        #expect(
            try APIKeyResolver.resolve(config: config, environment: [:]) == .init(key: "literal-key", source: .literal)
        )
        config.apiKey = nil
        #expect(throws: ConfigError.missingAPIKey(apiKeyFile: config.apiKeyFile)) {
            try APIKeyResolver.resolve(config: config, environment: [:])
        }
    }
}

@Suite("config loading: trace")
struct TraceConfigTests {
    @Test("trace.retentionHours and trace.maxBytes: defaults, fractions, and errors naming the key")
    func traceKeys() throws {
        let defaults = try ConfigLoader.parse(Data("{}".utf8), path: "c.json")
        #expect(defaults.trace.retentionHours == 168 && defaults.trace.maxBytes == 16_777_216)
        let set = try ConfigLoader.parse(Data(#"{"trace":{"retentionHours":0.5,"maxBytes":1048576}}"#.utf8), path: "c.json")
        #expect(set.trace.retentionHours == 0.5 && set.trace.maxBytes == 1_048_576)
        for bad in [#"{"trace":{"retentionHours":0}}"#, #"{"trace":{"maxBytes":10}}"#, #"{"trace":{"keep":1}}"#] {
            #expect(throws: ConfigError.self) { try ConfigLoader.parse(Data(bad.utf8), path: "c.json") }
        }
    }
}
