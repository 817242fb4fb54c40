import FoundationEssentials
import NIOHTTP1

/// The answers of `POST /v1/ingest` in Moda's own shapes (docs/protocol.md), so code written for Moda's
/// API works unchanged against the agent: `success`, `count`, `requestId`, and on errors `message`
/// and `retryable`.
struct IngestAPIResponse: Sendable, Equatable {
    var status: HTTPResponseStatus
    var count: Int
    var message: String?
    var retryable: Bool
    var requestId: String
    /// The queue id of the first event accepted; the request's events have consecutive ids.
    var firstID: Int64? = nil

    static func accepted(_ count: Int, firstID: Int64, requestId: String) -> Self {
        Self(status: .ok, count: count, message: nil, retryable: false, requestId: requestId, firstID: firstID)
    }

    static func refused(_ status: HTTPResponseStatus, _ message: String, retryable: Bool = false, requestId: String) -> Self {
        Self(status: status, count: 0, message: message, retryable: retryable, requestId: requestId)
    }

    var json: String {
        var fields = ["\"success\":\(message == nil)", "\"count\":\(count)"]
        if let firstID { fields.append("\"firstId\":\(firstID)") }
        if let message { fields.append("\"message\":\(JSONText.quoted(message))") }
        fields.append("\"requestId\":\(JSONText.quoted(requestId))")
        if message != nil { fields.append("\"retryable\":\(retryable)") }
        return "{" + fields.joined(separator: ",") + "}"
    }

    /// A fresh random UUID, lower case, as Moda's request ids are.
    static func newRequestId() -> String {
        UUID().uuidString.lowercased()
    }
}
