import NIOCore
import ModaAgentTestSupport
import Testing

@testable import ModaAgentCore

/// What `modactl status` says under `retrying`: the cause of the last failure, told apart from
/// what the uploader really met, so a name that does not resolve is not blamed on Moda.
@Suite("delivery fault causes and their hints")
struct DeliveryFaultCauseTests {
    struct Row: Sendable, CustomTestStringConvertible {
        var status: Int?
        var message: String
        var cause: DeliveryFault.Cause
        var hint: String
        var testDescription: String { "\(status.map(String.init) ?? "none"): \(message)" }
    }

    static let rows: [Row] = [
        Row(
            status: nil,
            message: TransportFailure.unresolvedHost(host: "moda-ingest.modas.workers.dev", reason: "Name or service not known")
                .message,
            cause: .unresolvedHost,
            hint: "The endpoint's host name does not resolve: check the network, DNS and `endpoint` in the config."
        ),
        Row(
            status: nil,
            message: TransportFailure.cannotConnect(reason: "Connection refused").message,
            cause: .cannotConnect,
            hint: "Nothing accepts connections at the endpoint: check the network, a firewall and `endpoint`."
        ),
        Row(
            status: nil,
            message: TransportFailure.timedOut(seconds: 30).message,
            cause: .timedOut,
            hint: "No answer within delivery.timeoutSeconds: the network or Moda is slow, or a firewall drops packets."
        ),
        Row(
            status: nil,
            message: TransportFailure.closedEarly.message,
            cause: .closedEarly,
            hint: "The endpoint closed the connection before answering: check a proxy or firewall on the way."
        ),
        Row(
            status: nil,
            message: TransportFailure.other(reason: "HTTP client error: TLS handshake failed").message,
            cause: .noResponse,
            hint: "No response from the endpoint (see Last error): check the network and `endpoint`."
        ),
        Row(
            status: 503,
            message: "Service temporarily unavailable",
            cause: .answered(503),
            hint: "Moda answered 503: it is not accepting batches right now."
        ),
        Row(
            status: 500,
            message: "HTTP 500 Internal Server Error",
            cause: .answered(500),
            hint: "Moda answered 500: it is not accepting batches right now."
        ),
        Row(
            status: 429,
            message: "rate limited",
            cause: .answered(429),
            hint: "Moda answered 429: it asks for fewer requests right now."
        ),
        Row(
            status: 200,
            message: "HTTP 200 OK, but the body is empty; delivery cannot be confirmed",
            cause: .answered(200),
            hint: "Moda answered 200 without accepting the batch (see Last error)."
        ),
    ]

    @Test("each failure kind has its cause and its own hint in status", arguments: rows)
    func hintFollowsCause(row: Row) {
        #expect(DeliveryFault(status: row.status, message: row.message).cause == row.cause)
        var report = StatusTextTests.report(memory: .init(bufferedBytes: 0, maxBufferedBytes: 1 << 20, readPauses: 0))
        report.delivery.state = .retrying
        report.delivery.lastError = .init(status: row.status, message: row.message, at: 90)
        report.delivery.attempts = 1
        report.delivery.nextAttemptAt = 112.3
        let lines = report.text(color: false, now: 100).split(separator: "\n").map(String.init)
        #expect(lines.contains("  " + row.hint), "\(lines)")
        #expect(lines.contains("  Events wait in the queue and are retried with backoff; `modactl flush` tries at once."))
        // Moda is named only when it answered.
        let blamesModa = lines.contains { $0.contains("Moda is not accepting") || $0.contains("Moda answered") }
        #expect(blamesModa == (row.status != nil), "\(lines)")
    }

    @Test("trace delivery retrying gets its own hint, by the same causes")
    func traceHint() {
        var report = StatusTextTests.report(memory: .init(bufferedBytes: 0, maxBufferedBytes: 1 << 20, readPauses: 0))
        report.traces.shown = true
        report.traces.delivery.state = .retrying
        report.traces.delivery.lastError = .init(
            status: nil,
            message: TransportFailure.unresolvedHost(host: "otel.example", reason: "Name or service not known").message,
            at: 95
        )
        let lines = report.text(color: false, now: 100).split(separator: "\n").map(String.init)
        #expect(
            lines.contains(
                "  Trace exports: The endpoint's host name does not resolve: check the network, DNS and `endpoint` in the config."
            ),
            "\(lines)"
        )
        #expect(lines.contains("              last error: no response: cannot resolve the host otel.example: Name or service not known (5.0s ago)"))
    }

    @Test(
        "Next attempt: when it is while the backoff runs, due once it has passed",
        arguments: [
            (112.3, "Next attempt: in 12s (attempt 2)"),
            (104.3, "Next attempt: in 4.3s (attempt 2)"),
            (100.06, "Next attempt: in 0.1s (attempt 2)"),
            (100.04, "Next attempt: due (attempt 2)"),
            (100.0, "Next attempt: due (attempt 2)"),
            (95.0, "Next attempt: due (attempt 2)"),
        ]
    )
    func nextAttempt(at: Double, expected: String) {
        var report = StatusTextTests.report(memory: .init(bufferedBytes: 0, maxBufferedBytes: 1 << 20, readPauses: 0))
        report.delivery.state = .retrying
        report.delivery.attempts = 1
        report.delivery.nextAttemptAt = at
        let lines = report.text(color: false, now: 100).split(separator: "\n").map(String.init)
        #expect(lines.contains(expected), "\(lines)")
        #expect(!lines.contains { $0.contains("now (attempt") })
    }

    @Test(
        "log durations to the millisecond at most",
        arguments: [
            (0.8251261209514006, "0.825"), (1.136893851838666, "1.137"), (30, "30"), (0.0004, "0"), (12.5, "12.5"),
        ]
    )
    func logSeconds(seconds: Double, expected: String) {
        #expect(Durations.seconds(seconds) == expected)
    }

    @Test("the uploader tells a refused connection and a host that does not resolve apart")
    func uploaderCauses() async throws {
        let uploader = Uploader(connectTimeoutSeconds: 1)
        let refused = await uploader.post(body: ByteBuffer(), endpoint: ClosedPort.endpoint, apiKey: "k", timeoutSeconds: 5)
        // A name with an empty label is refused by the resolver library itself: no query leaves the host.
        let unresolved = await uploader.post(
            body: ByteBuffer(),
            endpoint: "http://no..such.invalid:1/v1/ingest",
            apiKey: "k",
            timeoutSeconds: 5
        )
        await uploader.shutdown()
        guard case .transportFailure(let refusedMessage) = refused,
            case .transportFailure(let unresolvedMessage) = unresolved
        else {
            Issue.record("expected transport failures, got \(refused) and \(unresolved)")
            return
        }
        #expect(refusedMessage == "cannot connect to the endpoint: Connection refused")
        #expect(DeliveryFault(status: nil, message: refusedMessage).cause == .cannotConnect)
        #expect(unresolvedMessage.hasPrefix("cannot resolve the host no..such.invalid: "), "\(unresolvedMessage)")
        #expect(DeliveryFault(status: nil, message: unresolvedMessage).cause == .unresolvedHost)
    }
}
