import ModaAgentTestSupport

/// End to end with the mock answering every POST after 50 ms, a WAN round trip: what concurrent
/// requests buy. As many events as the end-to-end run (1M) over 4 connections (64 conversations), durability
/// full, the shipped delivery settings (maxInFlight 8, adaptive). Timed from the first write until the mock holds
/// every event. Not fewer: each lane's last partial batch waits out the 1 s flush interval and concurrency ramps
/// up from 1, so a run of 2 s would measure those two rather than the steady rate.
enum WANScenario {
    static let latency = 0.05

    static func run(_ context: BenchContext) {
        let plan = context.plan
        let events = max(100, plan.events)
        let label = "end to end, 50 ms upstream: first write → all at mock, \(Unit.count(events))"
        var peak: [Double] = []
        var cpu: [Double] = []
        let samples = context.samples(label) { run throws(BenchFailure) in
            let (rate, memory, microseconds) = try context.withAgent { agent throws(BenchFailure) in
                context.mock.respond(.always(.delay(latency, then: .success)))
                context.mock.resetTally(target: events)
                let cpuBefore = agent.cpuSeconds() ?? 0
                let result = try context.load(agent, events: events, label)
                let reached = try context.mock.waitForTarget(stallSeconds: plan.stallSeconds) { agent.isRunning }
                let microseconds = ((agent.cpuSeconds() ?? 0) - cpuBefore) / Double(events) * 1e6
                guard let memory = agent.memory() else { throw BenchFailure("cannot read the daemon's memory") }
                return (Double(events) / Monotonic.seconds(from: result.startedAt, to: reached), memory, microseconds)
            }
            peak.append(memory.peakMiB)
            cpu.append(microseconds)
            context.say(
                "  run \(run): \(Unit.eventsPerSecond.format(rate)) events/s delivered, peak RSS "
                    + "\(Unit.mebibytes.format(memory.peakMiB)) MiB, "
                    + "\(Unit.microseconds.format(microseconds)) µs CPU/event"
            )
            return rate
        }
        context.record(ResultRow(scenario: label, unit: .eventsPerSecond, samples: samples, target: .atLeast(100_000)))
        context.record(
            ResultRow(scenario: "end to end, 50 ms upstream: agent CPU per event", unit: .microseconds, samples: cpu)
        )
        context.record(
            ResultRow(scenario: "memory: peak RSS, 50 ms upstream", unit: .mebibytes, samples: peak, target: .atMost(60))
        )
    }
}
