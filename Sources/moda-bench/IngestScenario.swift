/// Acknowledged events/s: 1 and 4 connections, durability full and normal. The upstream is down
/// (the mock answers 503, so delivery sits in backoff) to isolate the ingest path: socket,
/// validation, group commit, reply. The end-to-end scenario measures ingest and delivery together.
enum IngestScenario {
    static func name(connections: Int, durability: String) -> String {
        "ingest: acked, \(connections) conn, \(durability)"
    }

    static func run(_ context: BenchContext) {
        let plan = context.plan
        for durability in ["full", "normal"] {
            for connections in [1, 4] {
                let scenario = name(connections: connections, durability: durability)
                let samples = context.samples(scenario) { run throws(BenchFailure) in
                    let rate = try context.withAgent(durability: durability, upstreamDown: true) {
                        agent throws(BenchFailure) in
                        try context.load(agent, events: plan.ingestEvents, connections: connections, scenario)
                            .eventsPerSecond
                    }
                    context.say("  \(scenario), run \(run): \(Unit.eventsPerSecond.format(rate)) events/s")
                    return rate
                }
                context.record(ResultRow(scenario: scenario, unit: .eventsPerSecond, samples: samples))
            }
        }
    }
}
