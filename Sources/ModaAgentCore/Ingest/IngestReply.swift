/// One reply line of the socket protocol (docs/protocol.md).
public enum IngestReply: Sendable, Equatable {
    /// `count` events with consecutive queue ids from `firstID` (what `modactl trace` takes).
    case accepted(Int, firstID: Int64)
    case rejected(line: Int, message: String, retryable: Bool)
    /// The connection itself was refused before any line was read; retryable.
    case refused(message: String)

    public var json: String {
        var text = ""
        append(to: &text)
        return text
    }

    /// Appends the reply line to `text`. An accepted line's reply is written piece by piece: the
    /// interpolated string it was built as cost two allocations per line (a quarter of the daemon's
    /// mallocs end to end, counted with a uprobe on malloc).
    func append(to text: inout String) {
        switch self {
        case .accepted(let count, let firstID):
            text += "{\"ok\":true,\"accepted\":"
            text += String(count)
            text += ",\"firstId\":"
            text += String(firstID)
            text += "}\n"
        case .rejected(let line, let message, let retryable):
            text += "{\"ok\":false,\"accepted\":0,\"retryable\":\(retryable),\"error\":"
                + JSONText.quoted("line \(line): \(message)") + "}\n"
        case .refused(let message):
            text += "{\"ok\":false,\"accepted\":0,\"retryable\":true,\"error\":" + JSONText.quoted(message) + "}\n"
        }
    }
}
