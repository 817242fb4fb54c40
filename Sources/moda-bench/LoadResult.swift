import ModaAgentTestSupport

/// The result of one load run: from the first write to the last reply, over all connections.
struct LoadResult: Sendable {
    let startedAt: UInt64
    let finishedAt: UInt64
    let outcomes: [ConnectionOutcome]

    var expected: Int { outcomes.reduce(0) { $0 + $1.expected } }
    var replies: Int { outcomes.reduce(0) { $0 + $1.replies } }
    var refused: Int { outcomes.reduce(0) { $0 + $1.refused } }
    var acknowledged: Int { replies - refused }
    var seconds: Double { Monotonic.seconds(from: startedAt, to: finishedAt) }

    /// Acknowledged events per second (one event per line).
    var eventsPerSecond: Double { seconds > 0 ? Double(acknowledged) / seconds : 0 }

    /// Every line acknowledged, or why not: a missing or refused reply is a functional failure.
    func check(_ what: String) throws(BenchFailure) {
        if let error = outcomes.compactMap(\.error).first {
            throw BenchFailure("\(what): \(error)")
        }
        if let refusal = outcomes.compactMap(\.firstRefusal).first {
            throw BenchFailure("\(what): \(refused) of \(expected) lines refused, first: \(refusal)")
        }
        guard replies == expected else {
            throw BenchFailure("\(what): \(replies) replies for \(expected) lines")
        }
    }
}
