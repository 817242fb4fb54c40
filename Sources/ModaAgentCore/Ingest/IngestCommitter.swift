/// Where an ingest connection hands its read bursts: the queue's group-commit writer, or in tests
/// a stand-in that answers when the test says so.
protocol IngestCommitter: AnyObject, Sendable {
    /// `completion` gets one outcome per element of `lines`, in order, on any thread.
    func submit(
        lines: [[PreparedEvent]],
        receivedAt: Double,
        completion: @escaping @Sendable ([QueueWriter.Outcome]) -> Void
    )
}

extension QueueWriter: IngestCommitter {}
