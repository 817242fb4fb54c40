import ModaAgentTestSupport

/// A block of ready-to-send event lines, renumbered in place. Each line is a ~320-byte standard
/// event, valid per docs/protocol.md (conversation_id, role, message, plus typed extras) and without a
/// timestamp, so the agent does its full job (validate, stamp, store). Lines differ only in a
/// fixed-width `"seq"`: the generator never formats JSON while the clock runs, it overwrites ten
/// digits. seq = 1,000,000,000 + n keeps ten digits and stays a plain JSON number. A connection
/// speaks for 16 conversations (two digits, overwritten the same way), 50 lines each in turn, as
/// a host with many sessions would: delivery keeps each conversation's order, not a global one.
struct EventBlock {
    static let seqBase = 1_000_000_000

    /// Bytes per line, newline included; every line of a block has the same length.
    let lineLength: Int
    let capacity: Int
    private(set) var bytes: [UInt8]
    /// Where the ten seq digits start within a line.
    private let seqOffset: Int
    /// Where the two conversation digits start within a line.
    private let conversationOffset: Int
    static let conversations = 16
    static let linesPerConversation = 50

    init(capacity: Int, connection: Int) {
        let prefix = Self.prefix(connection: connection, conversation: 0)
        let line = Array((prefix + String(Self.seqBase) + "}\n").utf8)
        self.lineLength = line.count
        self.capacity = capacity
        self.seqOffset = prefix.utf8.count
        self.conversationOffset = Self.conversationPrefix(connection: connection).utf8.count
        var bytes: [UInt8] = []
        bytes.reserveCapacity(line.count * capacity)
        for _ in 0..<capacity { bytes.append(contentsOf: line) }
        self.bytes = bytes
    }

    /// Numbers the first `count` lines `first`, `first + 1`, …
    mutating func number(first: Int, count: Int) {
        let lineLength = lineLength
        let seqOffset = seqOffset
        let conversationOffset = conversationOffset
        bytes.withUnsafeMutableBufferPointer { buffer in
            for line in 0..<min(count, capacity) {
                let conversation = (first + line) / Self.linesPerConversation % Self.conversations
                buffer[line * lineLength + conversationOffset] = UInt8(truncatingIfNeeded: 48 + conversation / 10)
                buffer[line * lineLength + conversationOffset + 1] = UInt8(truncatingIfNeeded: 48 + conversation % 10)
                var value = Self.seqBase + first + line
                var position = line * lineLength + seqOffset + 9
                for _ in 0..<10 {
                    buffer[position] = UInt8(truncatingIfNeeded: 48 + value % 10)
                    value /= 10
                    position -= 1
                }
            }
        }
    }

    /// Writes the first `count` lines to `socket`.
    func send(_ count: Int, to socket: BlockingSocket) throws(BenchFailure) {
        try BenchFailure.wrapping(try socket.send(bytes, prefix: min(count, capacity) * lineLength))
    }

    /// One event as JSON text without the newline, e.g. for a request body.
    static func event(seq: Int, connection: Int) -> String {
        prefix(connection: connection, conversation: seq / linesPerConversation % conversations)
            + String(seqBase + seq) + "}"
    }

    private static func conversationPrefix(connection: Int) -> String {
        "{\"conversation_id\":\"bench-conv-\(connection)-"
    }

    private static func prefix(connection: Int, conversation: Int) -> String {
        conversationPrefix(connection: connection) + (conversation < 10 ? "0" : "") + String(conversation)
            + "\",\"role\":\"assistant\",\"message\":\"The capital of France is "
            + "Paris. It has been the capital since the tenth century and is home to the Louvre, the Eiffel Tower and "
            + "Notre-Dame.\",\"model\":\"gpt-4o\",\"provider\":\"openai\",\"input_tokens\":12,\"output_tokens\":48,"
            + "\"user_id\":\"bench-user-\(connection)\",\"seq\":"
    }
}
