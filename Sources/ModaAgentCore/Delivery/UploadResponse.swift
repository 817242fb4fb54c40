/// What came back for one POST: the status, the raw headers the classifier reads, and the body.
///
/// A non-2xx status is data, not an error: `ResponseClassifier` decides what it means.
public struct UploadResponse: Sendable, Equatable {
    public var status: Int
    /// The raw `Retry-After` header, if any; `RetryAfter.seconds(from:)` interprets it.
    public var retryAfter: String?
    /// The raw `Location` header of a redirect, if any: it tells the operator what `endpoint` should be.
    public var location: String?
    public var body: [UInt8]

    public init(status: Int, retryAfter: String? = nil, location: String? = nil, body: [UInt8] = []) {
        self.status = status
        self.retryAfter = retryAfter
        self.location = location
        self.body = body
    }
}
