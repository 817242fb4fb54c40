/// One reply line of the socket protocol (docs/protocol.md).
public enum IngestReply: Sendable, Equatable {
    /// `count` events with consecutive queue ids from `firstID` (what `modactl trace` takes).
    case accepted(Int, firstID: Int64)
    case rejected(line: Int, message: String, retryable: Bool)
    /// The connection itself was refused before any line was read; retryable.
    case refused(message: String)

    public var json: String {
        switch self {
        case .accepted(let count, let firstID):
            return "{\"ok\":true,\"accepted\":\(count),\"firstId\":\(firstID)}\n"
        case .rejected(let line, let message, let retryable):
            return "{\"ok\":false,\"accepted\":0,\"retryable\":\(retryable),\"error\":"
                + JSONText.quoted("line \(line): \(message)") + "}\n"
        case .refused(let message):
            return "{\"ok\":false,\"accepted\":0,\"retryable\":true,\"error\":" + JSONText.quoted(message) + "}\n"
        }
    }
}
