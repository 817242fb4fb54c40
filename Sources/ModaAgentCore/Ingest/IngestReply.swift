/// One reply line of the socket protocol (docs/protocol.md).
public enum IngestReply: Sendable, Equatable {
    /// `count` events with consecutive queue ids from `firstID` (what `modactl trace` takes).
    case accepted(Int, firstID: Int64)
    case rejected(line: Int, message: String, retryable: Bool)
    /// The connection itself was refused before any line was read; retryable.
    case refused(message: String)

    public var json: String {
        var bytes: [UInt8] = []
        append(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the reply line to `bytes`, the burst's replies as the socket gets them. An accepted
    /// line's reply is written as bytes, its numbers digit by digit: appended to a String piece by
    /// piece it was still about 2 % of the daemon's samples end to end (String appends and integer
    /// formatting, perf, 1M run), and the String was copied into the reply's buffer again.
    func append(to bytes: inout [UInt8]) {
        switch self {
        case .accepted(let count, let firstID):
            Self.append("{\"ok\":true,\"accepted\":", to: &bytes)
            Self.appendDecimal(Int64(count), to: &bytes)
            Self.append(",\"firstId\":", to: &bytes)
            Self.appendDecimal(firstID, to: &bytes)
            Self.append("}\n", to: &bytes)
        case .rejected(let line, let message, let retryable):
            let text =
                "{\"ok\":false,\"accepted\":0,\"retryable\":\(retryable),\"error\":"
                + JSONText.quoted("line \(line): \(message)") + "}\n"
            bytes.append(contentsOf: text.utf8)
        case .refused(let message):
            let text = "{\"ok\":false,\"accepted\":0,\"retryable\":true,\"error\":" + JSONText.quoted(message) + "}\n"
            bytes.append(contentsOf: text.utf8)
        }
    }

    private static func append(_ text: StaticString, to bytes: inout [UInt8]) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// `value` in decimal ASCII, as `String(value)` spells it.
    static func appendDecimal(_ value: Int64, to bytes: inout [UInt8]) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        // 20 digits hold any UInt64.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var start = 20
            repeat {
                start -= 1
                digits[start] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[start..<20]))
        }
    }
}
