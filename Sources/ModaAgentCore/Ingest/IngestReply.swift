/// One reply line of the socket protocol (SPEC 3.2).
public enum IngestReply: Sendable, Equatable {
    case accepted(Int)
    case rejected(line: Int, message: String, retryable: Bool)
    /// The connection itself was refused before any line was read; retryable.
    case refused(message: String)

    public var json: String {
        switch self {
        case .accepted(let count):
            return "{\"ok\":true,\"accepted\":\(count)}\n"
        case .rejected(let line, let message, let retryable):
            return "{\"ok\":false,\"accepted\":0,\"retryable\":\(retryable),\"error\":"
                + JSONText.quoted("line \(line): \(message)") + "}\n"
        case .refused(let message):
            return "{\"ok\":false,\"accepted\":0,\"retryable\":true,\"error\":" + JSONText.quoted(message) + "}\n"
        }
    }
}
