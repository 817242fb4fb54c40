/// The outcome of one POST as the uploader saw it, before any decision is taken.
public enum UploadResult: Sendable, Equatable {
    /// The server answered, with any status.
    case response(UploadResponse)
    /// No answer: connection refused or reset, timeout, TLS failure. The reason is readable text
    /// for the operator (it never contains the API key).
    case transportFailure(String)
    /// The TLS handshake failed because the server's certificate is not trusted: no retry can fix that,
    /// only `delivery.caFile` or the endpoint (docs/networks.md). The reason says which host and why.
    case certificateRejected(String)
}
