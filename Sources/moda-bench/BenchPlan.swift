/// How big and how long each scenario is. The full plan is the issue's: 3 runs, 1M events end to
/// end, 500k replayed, 10k events/s for latency, a 10 s outage. The quick plan is a smoke test for
/// CI on a debug build: small counts, 1 run, a 2 s outage, well under a minute.
struct BenchPlan {
    var quick: Bool
    var runs: Int
    /// End to end, the memory backlog and the generator's ceiling.
    var events: Int
    /// Each ingest run (30 % of `events`: long enough for a steady rate, short enough for 12 runs).
    var ingestEvents: Int
    /// The replay backlog (50 % of `events`, the 500k).
    var replayEvents: Int
    var latencyRate = 10_000.0
    /// The backlog the drain scenario queues before the upstream comes back (the ingest runs' 30 %).
    var drainEvents: Int
    /// The one paced connection written while the backlog drains.
    var drainRate = 2_000.0
    /// Paced lines flow this long before delivery is told to drain, and `drainSeconds` after.
    var drainLeadSeconds = 0.5
    var drainSeconds: Double
    var latencySeconds: Double
    var outageSeconds: Double
    /// Load flows this long before the outage starts, and on through it.
    var outageLeadSeconds: Double
    var outageRate: Double
    /// How long a fresh daemon idles before its RSS is read.
    var idleSettleSeconds: Double
    /// How long a daemon with a backlog runs (and tries to deliver) before its RSS is read.
    var backlogSettleSeconds: Double
    /// Requests per connection of the mock's ceiling probe (2 connections).
    var probeRequests: Int
    /// A run fails when no progress was seen for this long.
    var stallSeconds: Double

    static func make(quick: Bool, runs: Int?, events: Int?) -> BenchPlan {
        let total = events ?? (quick ? 20_000 : 1_000_000)
        return BenchPlan(
            quick: quick,
            runs: runs ?? (quick ? 1 : 3),
            events: total,
            ingestEvents: max(1, total * 3 / 10),
            replayEvents: max(1, total / 2),
            drainEvents: max(1, total * 3 / 10),
            drainSeconds: quick ? 1 : 4,
            latencySeconds: quick ? 1 : 5,
            outageSeconds: quick ? 2 : 10,
            outageLeadSeconds: quick ? 0.5 : 1,
            outageRate: quick ? 2_000 : 10_000,
            idleSettleSeconds: quick ? 0.5 : 2,
            backlogSettleSeconds: quick ? 0.5 : 2,
            probeRequests: quick ? 20 : 300,
            stallSeconds: quick ? 30 : 20
        )
    }
}
