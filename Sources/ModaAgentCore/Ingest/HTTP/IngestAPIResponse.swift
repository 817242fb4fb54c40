import NIOHTTP1

/// The answers of `POST /v1/ingest` in Moda's own shapes (SPEC 10.1), so code written for Moda's
/// API works unchanged against the agent: `success`, `count`, `requestId`, and on errors `message`
/// and `retryable`.
struct IngestAPIResponse: Sendable, Equatable {
    var status: HTTPResponseStatus
    var count: Int
    var message: String?
    var retryable: Bool
    var requestId: String

    static func accepted(_ count: Int, requestId: String) -> Self {
        Self(status: .ok, count: count, message: nil, retryable: false, requestId: requestId)
    }

    static func refused(_ status: HTTPResponseStatus, _ message: String, retryable: Bool = false, requestId: String) -> Self {
        Self(status: status, count: 0, message: message, retryable: retryable, requestId: requestId)
    }

    var json: String {
        var fields = ["\"success\":\(message == nil)", "\"count\":\(count)"]
        if let message { fields.append("\"message\":\(JSONText.quoted(message))") }
        fields.append("\"requestId\":\(JSONText.quoted(requestId))")
        if message != nil { fields.append("\"retryable\":\(retryable)") }
        return "{" + fields.joined(separator: ",") + "}"
    }

    /// A fresh random (version 4) UUID, lower case, as Moda's request ids are.
    static func newRequestId() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let hex = bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }
        return hex[0..<4].joined() + "-" + hex[4..<6].joined() + "-" + hex[6..<8].joined() + "-"
            + hex[8..<10].joined() + "-" + hex[10..<16].joined()
    }
}
