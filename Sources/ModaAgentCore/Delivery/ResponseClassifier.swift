/// Turns the outcome of one POST into a `DeliveryDecision` (docs/operating.md, "Delivery"). Pure: no clock, no state,
/// no I/O, so every rule is tested with a table.
///
/// Precedence, from the first rule that applies:
/// 1. No response (transport failure): retry; a server certificate the trust store rejects: pause
///    (`misconfigured`), as only the config (`delivery.caFile`) can fix it.
/// 2. 2xx: delivered only with JSON `"success": true`; `"success": false` is a rejection (rule 6);
///    anything else cannot confirm delivery and is retried (at-least-once, never a silent loss).
/// 3. 3xx, 401, 403, 404: pause. These are configuration faults; a `retryable` flag does not turn
///    them into retries, as the state word (`unauthorized`, `misconfigured`) tells the operator more.
/// 4. 408, 429, 5xx: retry, whatever the body says (docs/operating.md: retried forever, never given up).
/// 5. Other 4xx with JSON `"retryable": true`: retry.
/// 6. Other 4xx (400, 413, 422, …): split a batch of more than one event, dead-letter a single one.
/// 7. Anything else (1xx, out-of-range codes): retry; the server is not behaving as the API does.
public enum ResponseClassifier {
    /// Longest excerpt of a non-JSON body kept in a fault message.
    static let excerptLimit = 200

    public static func classify(_ result: UploadResult, eventCount: Int) -> DeliveryDecision {
        switch result {
        case .transportFailure(let reason):
            let message = reason.isEmpty ? "connection failed" : reason
            return .retry(after: nil, fault: DeliveryFault(status: nil, message: message))
        case .certificateRejected(let reason):
            return .pause(.misconfigured, fault: DeliveryFault(status: nil, message: reason))
        case .response(let response):
            return classify(response, eventCount: eventCount)
        }
    }

    private static func classify(_ response: UploadResponse, eventCount: Int) -> DeliveryDecision {
        let status = response.status
        let body = APIResponseBody.parse(response.body)
        let retryAfter = RetryAfter.seconds(from: response.retryAfter)
        let fault = DeliveryFault(
            status: status,
            message: message(for: response, body: body),
            requestId: body?.requestId
        )

        switch status {
        case 200..<300:
            switch body?.success {
            case true?:
                return .delivered(requestId: body?.requestId)
            case false?:
                return rejection(fault, retryable: body?.retryable == true, retryAfter: retryAfter, eventCount)
            case nil:
                return .retry(after: retryAfter, fault: unconfirmed(response, body: body))
            }
        case 300..<400:
            var redirect = fault
            redirect.message = redirectMessage(response)
            return .pause(.misconfigured, fault: redirect)
        case 401, 403:
            return .pause(.unauthorized, fault: fault)
        case 404:
            return .pause(.misconfigured, fault: fault)
        case 408, 429, 500..<600:
            return .retry(after: retryAfter, fault: fault)
        case 400..<500:
            return rejection(fault, retryable: body?.retryable == true, retryAfter: retryAfter, eventCount)
        default:
            var unexpected = fault
            unexpected.message = "unexpected HTTP status \(status): " + fault.message
            return .retry(after: retryAfter, fault: unexpected)
        }
    }

    /// The API refused the batch: retry when it says the refusal is temporary, otherwise narrow
    /// it down to the events at fault.
    private static func rejection(
        _ fault: DeliveryFault,
        retryable: Bool,
        retryAfter: Double?,
        _ eventCount: Int
    ) -> DeliveryDecision {
        if retryable { return .retry(after: retryAfter, fault: fault) }
        return eventCount > 1 ? .split(fault: fault) : .deadLetter(fault: fault)
    }

    // MARK: - Messages

    /// The API's `message` when it gave one; otherwise the status and what the body showed.
    private static func message(for response: UploadResponse, body: APIResponseBody?) -> String {
        if let message = body?.message, !message.isEmpty { return message }
        let status = HTTPStatusText.describe(response.status)
        if let hint = hint(response.status) { return "\(status): \(hint)" }
        if body == nil, let excerpt = excerpt(response.body) { return "\(status): \(excerpt)" }
        return status
    }

    /// What to do about a status that points at the configuration, when the API said nothing.
    private static func hint(_ status: Int) -> String? {
        switch status {
        case 401, 403: "the API key was refused; check MODA_API_KEY, the api-key credential or apiKeyFile"
        case 404: "the endpoint does not accept ingest requests; check `endpoint` in the config"
        default: nil
        }
    }

    private static func unconfirmed(_ response: UploadResponse, body: APIResponseBody?) -> DeliveryFault {
        let status = HTTPStatusText.describe(response.status)
        let detail: String
        if body != nil {
            detail = "the response lacks \"success\": true"
        } else if let excerpt = excerpt(response.body) {
            detail = "the body is not the API's JSON (\(excerpt))"
        } else {
            detail = "the body is empty"
        }
        return DeliveryFault(
            status: response.status,
            message: "\(status), but \(detail); delivery cannot be confirmed, so the batch will be sent again",
            requestId: body?.requestId
        )
    }

    private static func redirectMessage(_ response: UploadResponse) -> String {
        let status = HTTPStatusText.describe(response.status)
        let target = response.location.map { " to \($0)" } ?? ""
        return "the endpoint redirects (\(status))\(target); set `endpoint` to the final URL"
    }

    /// The start of a body as one readable line, or nil when it is empty or blank.
    static func excerpt(_ body: [UInt8]) -> String? {
        // Decode only a bounded prefix: a large HTML error page needs no more than its start.
        let prefix = body.prefix(excerptLimit * 4)
        let text = String(decoding: prefix, as: UTF8.self)
        let words = text.split(whereSeparator: { $0.isWhitespace })
        guard !words.isEmpty else { return nil }
        let line = words.joined(separator: " ")
        guard line.count > excerptLimit || prefix.count < body.count else { return line }
        return String(line.prefix(excerptLimit)) + "…"
    }
}
