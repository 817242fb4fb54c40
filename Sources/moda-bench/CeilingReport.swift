/// Turns the ceiling samples into rows and sentences once the agent's figures are known: the
/// mock against the agent's end-to-end rate, the load generator against the fastest rate the agent
/// was measured at (ingest or end to end). Each must be at least 3× for the figures to be the
/// agent's, not the harness's.
struct CeilingReport {
    private(set) var rows: [ResultRow] = []
    private(set) var lines: [String] = []

    init(context: BenchContext) {
        let delivered = context.medians(EndToEndScenario.name).first
        let fastest = (context.medians("ingest:") + context.medians("end to end: acked")).max()
        if !context.mockCeiling.isEmpty {
            let events = context.mockCeiling.map(\.eventsPerSecond)
            let requests = context.mockCeiling.map(\.requestsPerSecond)
            rows.append(Self.row("ceiling: mock, 1000-event POSTs", events, against: delivered))
            rows.append(ResultRow(scenario: "ceiling: mock, requests", unit: .requestsPerSecond, samples: requests))
            let perSecond = Summary(requests).map { Unit.requestsPerSecond.format($0.median) } ?? "?"
            lines.append(
                Self.sentence(
                    "Mock Moda server",
                    Summary(events),
                    "events/s (\(perSecond) requests/s of 1000 events)",
                    against: delivered,
                    what: "the agent's end-to-end rate"
                )
            )
        }
        if !context.generatorCeiling.isEmpty {
            rows.append(Self.row("ceiling: load generator into a sink", context.generatorCeiling, against: fastest))
            lines.append(
                Self.sentence(
                    "Load generator",
                    Summary(context.generatorCeiling),
                    "lines/s (4 connections into a sink that answers every line)",
                    against: fastest,
                    what: "the agent's fastest ack rate"
                )
            )
        }
    }

    private static func row(_ name: String, _ samples: [Double], against agent: Double?) -> ResultRow {
        ResultRow(
            scenario: name,
            unit: .eventsPerSecond,
            samples: samples,
            target: agent.map { .atLeast(3 * $0) },
            targetText: agent.map { "≥ 3× agent (\(Unit.eventsPerSecond.format(3 * $0)))" }
        )
    }

    private static func sentence(
        _ who: String,
        _ summary: Summary?,
        _ detail: String,
        against agent: Double?,
        what: String
    )
        -> String
    {
        guard let summary else { return "\(who): no figure" }
        var text = "\(who): \(Unit.eventsPerSecond.format(summary.median)) \(detail)"
        if let agent, agent > 0 {
            text += " = \(Unit.fixed(summary.median / agent, 1))× \(what) (\(Unit.eventsPerSecond.format(agent)))"
        } else {
            text += "; \(what) was not measured in this run"
        }
        return text + "."
    }
}
