/// The result of a paced run: acknowledgement latency of every line, sorted, in milliseconds.
struct PacedResult: Sendable {
    let sent: Int
    let replies: Int
    let refused: Int
    let firstRefusal: String?
    let error: String?
    let latenciesMs: [Double]

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
