/// The result of a paced run: acknowledgement latency of every line, sorted, in milliseconds.
struct PacedResult: Sendable {
    let sent: Int
    let replies: Int
    let refused: Int
    let firstRefusal: String?
    let error: String?
    let latenciesMs: [Double]
    /// Each answered line's send time (`Monotonic`) and latency (ms), in sending order: for the
    /// latency of the lines sent within a window (`during`).
    private let sentAt: [UInt64]
    private let inOrder: [Double]

    init(
        sent: Int,
        replies: Int,
        refused: Int,
        firstRefusal: String?,
        error: String?,
        sentAt: [UInt64],
        inOrder: [Double]
    ) {
        self.sent = sent
        self.replies = replies
        self.refused = refused
        self.firstRefusal = firstRefusal
        self.error = error
        self.sentAt = sentAt
        self.inOrder = inOrder
        latenciesMs = inOrder.sorted()
    }

    /// The same figures for the lines sent from `start` until `end` (`Monotonic` nanoseconds).
    func during(_ start: UInt64, _ end: UInt64) -> PacedResult {
        var stamps: [UInt64] = []
        var latencies: [Double] = []
        for (sentAt, latency) in zip(sentAt, inOrder) where sentAt >= start && sentAt < end {
            stamps.append(sentAt)
            latencies.append(latency)
        }
        return PacedResult(
            sent: latencies.count,
            replies: latencies.count,
            refused: 0,
            firstRefusal: nil,
            error: nil,
            sentAt: stamps,
            inOrder: latencies
        )
    }

    /// The value below which a fraction `q` of the latencies fall (nearest rank).
    func percentile(_ q: Double) -> Double {
        guard !latenciesMs.isEmpty else { return 0 }
        let rank = Int((q * Double(latenciesMs.count)).rounded(.up)) - 1
        return latenciesMs[min(max(rank, 0), latenciesMs.count - 1)]
    }

    func check(_ what: String) throws(BenchFailure) {
        if let error { throw BenchFailure("\(what): \(error)") }
        if let firstRefusal {
            throw BenchFailure("\(what): \(refused) of \(sent) lines refused, first: \(firstRefusal)")
        }
        guard replies == sent else { throw BenchFailure("\(what): \(replies) replies for \(sent) lines") }
    }
}
