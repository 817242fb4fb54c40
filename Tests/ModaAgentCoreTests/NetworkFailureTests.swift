import AsyncHTTPClient
import Testing

@testable import ModaAgentCore

/// What `status` says when the network in between failed: the proxy named (redacted) when it is the
/// proxy's fault, and an untrusted certificate paused as `misconfigured`, events and traces alike.
@Suite("networks in between: failure messages")
struct NetworkFailureTests {
    static let proxy = ProxyServer(host: "proxy.corp", port: 3128, username: "alice", password: "hunter2")
    static let route = ProxyRoute.proxy(proxy, setting: "HTTPS_PROXY")
    static let endpoint = "https://moda.example.com/v1/ingest"

    static func text(_ error: any Error, route: ProxyRoute = route) -> UploadResult {
        TransportFailureText.result(for: error, route: route, endpoint: endpoint, timeoutSeconds: 30)
    }

    @Test(
        "proxy failures name the proxy, redacted, and are retried",
        arguments: [
            (HTTPClientError.proxyAuthenticationRequired, "refused the request: 407 Proxy Authentication Required"),
            (HTTPClientError.invalidProxyResponse, "refused to open a tunnel to moda.example.com:443"),
            (HTTPClientError.httpProxyHandshakeTimeout, "did not answer the CONNECT to moda.example.com:443"),
        ]
    )
    func proxyRefusals(error: HTTPClientError, phrase: String) {
        guard case .transportFailure(let message) = Self.text(error) else {
            Issue.record("not a transport failure")
            return
        }
        #expect(message.hasPrefix("the proxy http://<redacted>@proxy.corp:3128 (HTTPS_PROXY) "), "\(message)")
        #expect(message.contains(phrase), "\(message)")
        #expect(!message.contains("hunter2") && !message.contains("alice"))
        let decision = ResponseClassifier.classify(.transportFailure(message), eventCount: 3)
        guard case .retry(_, let fault) = decision else {
            Issue.record("\(decision) is not a retry")
            return
        }
        #expect(fault.message == message)
    }

    struct Refused: Error, CustomStringConvertible {
        var description: String { "connection reset (error set): Connection refused (errno: 111)" }
    }

    @Test("a proxy that is down: cannot connect to the proxy, not to Moda")
    func proxyDown() {
        #expect(
            Self.text(Refused())
                == .transportFailure(
                    "cannot connect to the proxy http://<redacted>@proxy.corp:3128 (HTTPS_PROXY): Connection refused"
                )
        )
        #expect(
            Self.text(Refused(), route: .direct)
                == .transportFailure("cannot connect to the endpoint: Connection refused")
        )
    }

    @Test("an untrusted certificate pauses delivery as misconfigured, for events and trace exports")
    func certificateRejected() {
        let result = UploadResult.certificateRejected("the TLS certificate of moda.example.com:443 was rejected")
        guard case .pause(let reason, let fault) = ResponseClassifier.classify(result, eventCount: 2) else {
            Issue.record("events: not a pause")
            return
        }
        #expect(reason == .misconfigured && fault.message.contains("was rejected") && fault.status == nil)
        guard case .pause(let traceReason, _) = TraceResponseClassifier.classify(result, exportCount: 1).0 else {
            Issue.record("traces: not a pause")
            return
        }
        #expect(traceReason == .misconfigured)
        #expect(DeliveryMetrics.code(result) == "tls")
    }
}

/// SIGHUP: the HTTP clients are rebuilt only when the proxy or the CA file changed.
@Suite("networks in between: client rebuilds")
struct UpstreamClientRebuildTests {
    @Test("an equal network keeps the clients; another proxy or CA set rebuilds them")
    func rebuildsOnlyOnChange() async throws {
        let uploader = Uploader(network: .direct)
        #expect(!uploader.use(.direct))
        let proxied = UpstreamNetwork(
            proxies: try ProxyChoice.resolve(
                explicit: ProxyServer(host: "127.0.0.1", port: 3128),
                environment: [:],
                endpoints: []
            )
        )
        #expect(uploader.use(proxied))
        #expect(!uploader.use(proxied))
        #expect(uploader.use(.direct))
        await uploader.shutdown()
    }
}

/// `modactl status`'s hint points at the proxy or the CA file, not at Moda, when they are at fault.
@Suite("networks in between: status hints")
struct NetworkStatusHintTests {
    static func hints(_ state: DeliveryStatus.State, status: Int?, message: String) -> [String] {
        var report = StatusTextTests.report(
            memory: MemoryBudget.Snapshot(bufferedBytes: 0, maxBufferedBytes: 64 << 20, readPauses: 0)
        )
        report.delivery.state = state
        report.delivery.lastError = .init(status: status, message: message, at: 90)
        return report.hints
    }

    @Test("a proxy refusal, an untrusted certificate, and Moda's own answers each get their own hint")
    func hints() {
        #expect(
            Self.hints(.retrying, status: nil, message: "the proxy http://p:1 (HTTPS_PROXY) refused the request: 407")
                .first?.hasPrefix("The proxy between this host and Moda is refusing") == true
        )
        #expect(
            Self.hints(.retrying, status: nil, message: "cannot connect to the proxy http://p:1 (delivery.proxy): x")
                .first?.hasPrefix("The proxy between this host and Moda is refusing") == true
        )
        #expect(
            Self.hints(.retrying, status: 503, message: "busy").first?.hasPrefix("Moda answered 503") == true
        )
        #expect(
            Self.hints(.misconfigured, status: nil, message: "the TLS certificate of m:443 was rejected: x")
                .first?.hasPrefix("The endpoint's TLS certificate is not trusted: set delivery.caFile") == true
        )
        #expect(
            Self.hints(.misconfigured, status: 404, message: "Not Found").first?.hasPrefix("Moda answered 404") == true
        )
    }
}
