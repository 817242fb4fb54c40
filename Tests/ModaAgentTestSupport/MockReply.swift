import Foundation

/// How the mock server answers one request.
public indirect enum MockReply: Sendable {
    /// 200 `{"success":true,"count":N,"requestId":"<uuid>"}`, N being the batch's event count.
    case success
    /// The API's error shape: `{"success":false,"count":0,"message":…,"requestId":…,"retryable":…}`,
    /// with a `Retry-After` header when `retryAfter` is given.
    case status(Int, message: String, retryable: Bool, retryAfter: String? = nil)
    /// Exactly this status, headers and body (`Content-Length` added unless given).
    case raw(status: Int, headers: [(String, String)], body: String)
    /// Close the connection without answering.
    case dropConnection
    /// Answer with `then` after `seconds`, without holding up the event loop or other connections.
    case delay(Double, then: MockReply)
}

extension MockReply {
    /// A reply ready to write.
    struct Rendered {
        var status: Int
        var headers: [(String, String)]
        var body: [UInt8]
        /// Whether the reply confirms delivery of the batch (a 2xx with `"success": true`).
        var confirmsDelivery: Bool
    }

    /// What to write for `request`; nil for `.dropConnection` and `.delay`, which the handler
    /// acts on itself.
    func rendered(for request: MockRequest) -> Rendered? {
        switch self {
        case .success where request.path.hasPrefix("/v1/traces"):
            // An empty ExportTraceServiceResponse in the request's encoding, as OTLP receivers answer.
            let json = request.headers["content-type"]?.lowercased().hasPrefix("application/json") == true
            return Rendered(
                status: 200,
                headers: [("Content-Type", json ? "application/json" : "application/x-protobuf")],
                body: json ? Array("{}".utf8) : [],
                confirmsDelivery: true
            )
        case .success:
            let body = #"{"success":true,"count":\#(request.eventCount),"requestId":"\#(Self.newRequestId())"}"#
            return Rendered(status: 200, headers: Self.jsonHeaders, body: Array(body.utf8), confirmsDelivery: true)
        case .status(let status, let message, let retryable, let retryAfter):
            var headers = Self.jsonHeaders
            if let retryAfter { headers.append(("Retry-After", retryAfter)) }
            let body = ErrorBody(message: message, requestId: Self.newRequestId(), retryable: retryable)
            let bytes = (try? JSONEncoder().encode(body)).map { Array($0) } ?? []
            // `"success": false` never confirms delivery, whatever the status.
            return Rendered(status: status, headers: headers, body: bytes, confirmsDelivery: false)
        case .raw(let status, let headers, let body):
            let bytes = Array(body.utf8)
            let confirms = (200..<300).contains(status) && MockJSON.parse(bytes)?["success"] == true
            return Rendered(status: status, headers: headers, body: bytes, confirmsDelivery: confirms)
        case .dropConnection, .delay:
            return nil
        }
    }

    private static let jsonHeaders = [("Content-Type", "application/json")]

    private static func newRequestId() -> String { UUID().uuidString.lowercased() }

    /// The API's error response body.
    private struct ErrorBody: Encodable {
        var success = false
        var count = 0
        var message: String
        var requestId: String
        var retryable: Bool
    }
}
