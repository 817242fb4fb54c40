import ModaAgentTestSupport

/// The whole pipeline: 1M events over 4 connections, durability full, full validation, delivery
/// to the mock. Timed from the first write until the mock holds every event (the mock stamps that
/// moment itself). The same run gives the peak RSS and the agent's CPU per event.
enum EndToEndScenario {
    static let name = "end to end: first write → all at mock"

    static func run(_ context: BenchContext) {
        let plan = context.plan
        var delivered: [Double] = []
        var acknowledged: [Double] = []
        var peak: [Double] = []
        var cpu: [Double] = []
        context.eachRun(name) { run throws(BenchFailure) in
            try context.withAgent { agent throws(BenchFailure) in
                context.mock.resetTally(target: plan.events)
                let cpuBefore = agent.cpuSeconds() ?? 0
                let result = try context.load(agent, events: plan.events, name)
                let reached = try context.mock.waitForTarget(stallSeconds: plan.stallSeconds) { agent.isRunning }
                let rate = Double(plan.events) / Monotonic.seconds(from: result.startedAt, to: reached)
                let microseconds = ((agent.cpuSeconds() ?? 0) - cpuBefore) / Double(plan.events) * 1e6
                guard let memory = agent.memory() else { throw BenchFailure("cannot read the daemon's memory") }
                delivered.append(rate)
                acknowledged.append(result.eventsPerSecond)
                peak.append(memory.peakMiB)
                cpu.append(microseconds)
                context.say(
                    "  run \(run): \(Unit.eventsPerSecond.format(rate)) events/s delivered, "
                        + "\(Unit.eventsPerSecond.format(result.eventsPerSecond)) acked, peak RSS "
                        + "\(Unit.mebibytes.format(memory.peakMiB)) MiB (now \(memory.breakdown)), "
                        + "\(Unit.microseconds.format(microseconds)) µs CPU/event"
                )
            }
        }
        let count = Unit.count(plan.events)
        context.record(
            ResultRow(
                scenario: "\(name), \(count)",
                unit: .eventsPerSecond,
                samples: delivered,
                target: .atLeast(170_000)
            )
        )
        context.record(
            ResultRow(
                scenario: "end to end: acked during the \(count) run",
                unit: .eventsPerSecond,
                samples: acknowledged
            )
        )
        context.record(
            ResultRow(
                scenario: "memory: peak RSS in the \(count) run",
                unit: .mebibytes,
                samples: peak,
                target: .atMost(60)
            )
        )
        context.record(ResultRow(scenario: "end to end: agent CPU per event", unit: .microseconds, samples: cpu))
    }
}
