/// The replies to one burst of socket lines, built in one place from what was fixed at framing (a
/// rejection) and what the writer's commit answered for each accepted line (docs/protocol.md).
struct BurstReplies: Equatable {
    /// The reply lines, in input order, each ending in "\n".
    var text: [UInt8] = []
    /// Replies in `text`: one per non-blank line of the burst.
    var count = 0
    /// Events acknowledged.
    var acceptedEvents = 0
    /// Why lines the validator passed were refused at the writer, one element per such line.
    var refusals: [IngestMetrics.RejectReason] = []
    /// Every error reply of the burst, as `modactl tail` shows a rejected line.
    var rejections: [String] = []

    /// `outcomes` has one element per `.events` entry of `burst`, in order.
    init(_ burst: IngestConnectionStateMachine.Burst, outcomes: [QueueWriter.Outcome]) {
        // An accepted line's reply is about 45 bytes.
        text.reserveCapacity(burst.entries.count * 48)
        var next = outcomes.makeIterator()
        for entry in burst.entries {
            let reply: IngestReply
            switch entry {
            case .reply(let fixed):
                reply = fixed
            case .events(let line):
                switch next.next() {
                case .accepted(let events, let firstID):
                    acceptedEvents += events
                    reply = .accepted(events, firstID: firstID)
                case .queueFull(let message):
                    refusals.append(.queueFull)
                    reply = .rejected(line: line, message: message, retryable: true)
                case .failed(let message):
                    refusals.append(.writeFailed)
                    reply = .rejected(line: line, message: message, retryable: true)
                case nil:
                    reply = .rejected(line: line, message: "internal error: no outcome", retryable: true)
                }
            }
            if case .rejected(let line, let message, _) = reply { rejections.append("line \(line): \(message)") }
            reply.append(to: &text)
            count += 1
        }
    }
}
