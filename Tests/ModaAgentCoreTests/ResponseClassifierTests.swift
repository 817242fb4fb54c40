import Testing

@testable import ModaAgentCore

@Suite struct ResponseClassifierTests {
    /// One row of the decision table: an outcome, the batch size, and the expected decision.
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var result: UploadResult
        var eventCount: Int = 2
        var expected: DeliveryDecision
        var testDescription: String { name }
    }

    static let requestId = "550e8400-e29b-41d4-a716-446655440000"

    static func response(
        _ status: Int,
        _ body: String = "",
        retryAfter: String? = nil,
        location: String? = nil
    ) -> UploadResult {
        .response(UploadResponse(status: status, retryAfter: retryAfter, location: location, body: Array(body.utf8)))
    }

    static func apiError(_ message: String, retryable: Bool) -> String {
        #"{"success":false,"count":0,"message":"\#(message)","requestId":"\#(requestId)","retryable":\#(retryable)}"#
    }

    /// A 200 whose body does not say `"success": true`: retried, since delivery is unconfirmed.
    static let unconfirmed200 = DeliveryDecision.retry(
        after: nil,
        fault: fault(
            200,
            "HTTP 200 OK, but the response lacks \"success\": true; delivery cannot be confirmed, "
                + "so the batch will be sent again",
            requestId: nil
        )
    )

    static func fault(_ status: Int?, _ message: String, requestId: String? = requestId) -> DeliveryFault {
        DeliveryFault(status: status, message: message, requestId: requestId)
    }

    static let success = #"{"success":true,"count":2,"requestId":"\#(requestId)"}"#

    static let cases: [Case] = [
        // 2xx
        Case(name: "200 success", result: response(200, success), expected: .delivered(requestId: requestId)),
        Case(
            name: "202 success without requestId",
            result: response(202, #"{"success":true,"count":1}"#),
            expected: .delivered(requestId: nil)
        ),
        Case(
            name: "200 success with details",
            result: response(200, #"{"success":true,"count":4,"requestId":"r","details":{"channel":2}}"#),
            expected: .delivered(requestId: "r")
        ),
        Case(
            name: "200 success=false retryable",
            result: response(200, apiError("busy", retryable: true)),
            expected: .retry(after: nil, fault: fault(200, "busy"))
        ),
        Case(
            name: "200 success=false not retryable, batch",
            result: response(200, apiError("events[0]: bad", retryable: false)),
            expected: .split(fault: fault(200, "events[0]: bad"))
        ),
        Case(
            name: "200 success=false not retryable, single",
            result: response(200, #"{"success":false,"message":"bad"}"#),
            eventCount: 1,
            expected: .deadLetter(fault: fault(200, "bad", requestId: nil))
        ),
        Case(
            name: "200 empty body",
            result: response(200),
            expected: .retry(
                after: nil,
                fault: fault(
                    200,
                    "HTTP 200 OK, but the body is empty; delivery cannot be confirmed, so the batch will be sent again",
                    requestId: nil
                )
            )
        ),
        Case(
            name: "200 HTML body",
            result: response(200, "<html>\n  <body>Welcome</body>\n</html>"),
            expected: .retry(
                after: nil,
                fault: fault(
                    200,
                    "HTTP 200 OK, but the body is not the API's JSON (<html> <body>Welcome</body> </html>); "
                        + "delivery cannot be confirmed, so the batch will be sent again",
                    requestId: nil
                )
            )
        ),
        Case(
            name: "200 JSON without success",
            result: response(200, #"{"count":2,"requestId":"x"}"#),
            expected: .retry(
                after: nil,
                fault: fault(
                    200,
                    "HTTP 200 OK, but the response lacks \"success\": true; delivery cannot be confirmed, "
                        + "so the batch will be sent again",
                    requestId: "x"
                )
            )
        ),
        Case(
            name: "200 JSON array",
            result: response(200, "[true]"),
            expected: .retry(
                after: nil,
                fault: fault(
                    200,
                    "HTTP 200 OK, but the body is not the API's JSON ([true]); delivery cannot be confirmed, "
                        + "so the batch will be sent again",
                    requestId: nil
                )
            )
        ),
        Case(
            name: "200 success as a string is not success",
            result: response(200, #"{"success":"true"}"#),
            expected: unconfirmed200
        ),
        Case(
            name: "200 success as 1 is not success",
            result: response(200, #"{"success":1}"#),
            expected: unconfirmed200
        ),

        // 3xx
        Case(
            name: "301 with Location",
            result: response(301, "", location: "https://moda.example/v1/ingest"),
            expected: .pause(
                .misconfigured,
                fault: fault(
                    301,
                    "the endpoint redirects (HTTP 301 Moved Permanently) to https://moda.example/v1/ingest; "
                        + "set `endpoint` to the final URL",
                    requestId: nil
                )
            )
        ),
        Case(
            name: "308 without Location",
            result: response(308, "moved"),
            eventCount: 1,
            expected: .pause(
                .misconfigured,
                fault: fault(
                    308,
                    "the endpoint redirects (HTTP 308 Permanent Redirect); set `endpoint` to the final URL",
                    requestId: nil
                )
            )
        ),

        // Configuration faults
        Case(
            name: "401 API message",
            result: response(401, apiError("Invalid or missing API key", retryable: false)),
            expected: .pause(.unauthorized, fault: fault(401, "Invalid or missing API key"))
        ),
        Case(
            name: "401 retryable flag does not beat pause",
            result: response(401, apiError("Invalid or missing API key", retryable: true)),
            expected: .pause(.unauthorized, fault: fault(401, "Invalid or missing API key"))
        ),
        Case(
            name: "403 no body",
            result: response(403),
            expected: .pause(
                .unauthorized,
                fault: fault(
                    403,
                    "HTTP 403 Forbidden: the API key was refused; check MODA_API_KEY, the api-key credential or "
                        + "apiKeyFile",
                    requestId: nil
                )
            )
        ),
        Case(
            name: "404 HTML",
            result: response(404, "<h1>Not Found</h1>"),
            eventCount: 1,
            expected: .pause(
                .misconfigured,
                fault: fault(
                    404,
                    "HTTP 404 Not Found: the endpoint does not accept ingest requests; check `endpoint` in the config",
                    requestId: nil
                )
            )
        ),

        // Retry on status, whatever the body says
        Case(
            name: "503 API body",
            result: response(503, apiError("Service temporarily unavailable", retryable: true)),
            expected: .retry(after: nil, fault: fault(503, "Service temporarily unavailable"))
        ),
        Case(
            name: "503 says not retryable",
            result: response(503, apiError("down", retryable: false)),
            expected: .retry(after: nil, fault: fault(503, "down"))
        ),
        Case(
            name: "503 Retry-After",
            result: response(503, "", retryAfter: "5"),
            expected: .retry(after: 5, fault: fault(503, "HTTP 503 Service Unavailable", requestId: nil))
        ),
        Case(
            name: "502 HTML",
            result: response(502, "<html>bad gateway</html>"),
            expected: .retry(
                after: nil,
                fault: fault(502, "HTTP 502 Bad Gateway: <html>bad gateway</html>", requestId: nil)
            )
        ),
        Case(
            name: "500",
            result: response(500),
            expected: .retry(after: nil, fault: fault(500, "HTTP 500 Internal Server Error", requestId: nil))
        ),
        Case(
            name: "504",
            result: response(504),
            eventCount: 1,
            expected: .retry(after: nil, fault: fault(504, "HTTP 504 Gateway Timeout", requestId: nil))
        ),
        Case(
            name: "599 other 5xx",
            result: response(599),
            expected: .retry(after: nil, fault: fault(599, "HTTP 599", requestId: nil))
        ),
        Case(
            name: "429 Retry-After decimal",
            result: response(429, "", retryAfter: " 1.5 "),
            expected: .retry(after: 1.5, fault: fault(429, "HTTP 429 Too Many Requests", requestId: nil))
        ),
        Case(
            name: "429 Retry-After HTTP-date is ignored",
            result: response(429, "", retryAfter: "Wed, 21 Oct 2015 07:28:00 GMT"),
            expected: .retry(after: nil, fault: fault(429, "HTTP 429 Too Many Requests", requestId: nil))
        ),
        Case(
            name: "408",
            result: response(408),
            eventCount: 1,
            expected: .retry(after: nil, fault: fault(408, "HTTP 408 Request Timeout", requestId: nil))
        ),

        // Rejections
        Case(
            name: "400 batch",
            result: response(400, apiError("events[3]: role is required", retryable: false)),
            eventCount: 10,
            expected: .split(fault: fault(400, "events[3]: role is required"))
        ),
        Case(
            name: "400 single",
            result: response(400, apiError("events[0]: role is required", retryable: false)),
            eventCount: 1,
            expected: .deadLetter(fault: fault(400, "events[0]: role is required"))
        ),
        Case(
            name: "413 batch",
            result: response(413, apiError("Request too large", retryable: false)),
            expected: .split(fault: fault(413, "Request too large"))
        ),
        Case(
            name: "413 single",
            result: response(413),
            eventCount: 1,
            expected: .deadLetter(fault: fault(413, "HTTP 413 Content Too Large", requestId: nil))
        ),
        Case(
            name: "422 plain text",
            result: response(422, "field x is invalid"),
            eventCount: 1,
            expected: .deadLetter(
                fault: fault(422, "HTTP 422 Unprocessable Content: field x is invalid", requestId: nil)
            )
        ),
        Case(
            name: "409 other 4xx",
            result: response(409, #"{"success":false}"#),
            eventCount: 3,
            expected: .split(fault: fault(409, "HTTP 409 Conflict", requestId: nil))
        ),
        Case(
            name: "400 retryable",
            result: response(400, apiError("try later", retryable: true), retryAfter: "2"),
            expected: .retry(after: 2, fault: fault(400, "try later"))
        ),
        Case(
            name: "400 empty message falls back to the status",
            result: response(400, #"{"success":false,"message":"","requestId":"q"}"#),
            eventCount: 1,
            expected: .deadLetter(fault: fault(400, "HTTP 400 Bad Request", requestId: "q"))
        ),
        Case(
            name: "400 wrongly typed fields are ignored, the rest kept",
            result: response(400, #"{"success":"no","message":"bad event","requestId":7,"retryable":"yes"}"#),
            eventCount: 1,
            expected: .deadLetter(fault: fault(400, "bad event", requestId: nil))
        ),

        // No response, or not HTTP as the API speaks it
        Case(
            name: "transport failure",
            result: .transportFailure("connection refused"),
            expected: .retry(after: nil, fault: fault(nil, "connection refused", requestId: nil))
        ),
        Case(
            name: "transport failure without reason",
            result: .transportFailure(""),
            eventCount: 1,
            expected: .retry(after: nil, fault: fault(nil, "connection failed", requestId: nil))
        ),
        Case(
            name: "1xx",
            result: response(101),
            expected: .retry(after: nil, fault: fault(101, "unexpected HTTP status 101: HTTP 101", requestId: nil))
        ),
        Case(
            name: "out-of-range status",
            result: response(700, apiError("odd", retryable: false)),
            expected: .retry(after: nil, fault: fault(700, "unexpected HTTP status 700: odd"))
        ),
    ]

    @Test(arguments: cases)
    func classifies(_ row: Case) {
        #expect(ResponseClassifier.classify(row.result, eventCount: row.eventCount) == row.expected)
    }

    @Test func everyStatusHasADecisionAndAFaultWithItsStatus() {
        for status in 100...999 {
            let decision = ResponseClassifier.classify(Self.response(status), eventCount: 2)
            switch decision {
            case .delivered:
                Issue.record("status \(status) without a body must not count as delivered")
            case .retry(_, let fault), .split(let fault), .deadLetter(let fault), .pause(_, let fault):
                #expect(fault.status == status)
                #expect(!fault.message.isEmpty)
            }
        }
    }

    @Test func longBodiesAreExcerpted() {
        let body = String(repeating: "x", count: 10_000)
        let decision = ResponseClassifier.classify(Self.response(500, body), eventCount: 1)
        guard case .retry(_, let fault) = decision else {
            Issue.record("expected retry, got \(decision)")
            return
        }
        #expect(fault.message == "HTTP 500 Internal Server Error: " + String(repeating: "x", count: 200) + "…")
    }

    @Test func invalidUTF8InABodyIsStillReadable() {
        let result = UploadResult.response(UploadResponse(status: 502, body: [0x66, 0xFF, 0x6F]))
        guard case .retry(_, let fault) = ResponseClassifier.classify(result, eventCount: 1) else {
            Issue.record("expected retry")
            return
        }
        #expect(fault.message == "HTTP 502 Bad Gateway: f\u{FFFD}o")
    }
}

@Suite struct RetryAfterTests {
    @Test(
        arguments: [
            ("0", 0.0), ("5", 5), ("120", 120), ("1.5", 1.5), (" 7\t", 7), ("007", 7), ("0.25", 0.25),
        ] as [(String, Double)]
    )
    func parsesSeconds(header: String, seconds: Double) {
        #expect(RetryAfter.seconds(from: header) == seconds)
    }

    @Test(arguments: [
        "", " ", "-1", "+3", "1e3", "inf", "nan", "1.", ".5", "1.2.3", "5s", "0x10", "Wed, 21 Oct 2015 07:28:00 GMT",
        "½",
    ])
    func rejectsEverythingElse(header: String) {
        #expect(RetryAfter.seconds(from: header) == nil)
    }

    @Test func absentHeader() {
        #expect(RetryAfter.seconds(from: nil) == nil)
    }
}
