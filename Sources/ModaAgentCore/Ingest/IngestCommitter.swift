/// Where an ingest connection hands its read bursts: the queue's group-commit writer, or in tests
/// a stand-in that answers when the test says so.
protocol IngestCommitter: AnyObject, Sendable {
    /// `completion` gets one outcome per line of `lines`, in order, on any thread.
    func submit(
        lines: PreparedLines,
        receivedAt: Double,
        completion: @escaping @Sendable ([QueueWriter.Outcome]) -> Void
    )
    /// A burst's error replies (`line N: ...`), for those who follow the flow.
    func rejected(lines errors: [String])
}

extension IngestCommitter {
    func rejected(lines errors: [String]) {}
}

extension QueueWriter: IngestCommitter {
    /// Error replies go to `modactl tail` (the tap drops them when no one follows).
    func rejected(lines errors: [String]) {
        for error in errors { tap.rejected(source: "socket", error: error) }
    }
}
