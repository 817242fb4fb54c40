import ModaAgentTestSupport

/// Backlog replay: 500k events queued through the socket while the upstream is down, the daemon
/// restarted (SIGTERM, then a fresh process on the same queue), the upstream up. Timed from the
/// new process's start until the mock holds the whole backlog, so startup counts too.
enum ReplayScenario {
    static func run(_ context: BenchContext) {
        let plan = context.plan
        let label = "replay: \(Unit.count(plan.replayEvents)) backlog, restart → drained"
        var cpu: [Double] = []
        let samples = context.samples(label) { run throws(BenchFailure) in
            let (rate, microseconds) = try context.withAgent(upstreamDown: true) { agent throws(BenchFailure) in
                try context.load(agent, events: plan.replayEvents, "replay: filling the queue")
                try agent.stop()
                context.setUpstream(down: false)
                context.mock.resetTally(target: plan.replayEvents)
                let started = Monotonic.now()
                try agent.start()
                let reached = try context.mock.waitForTarget(stallSeconds: plan.stallSeconds) { agent.isRunning }
                // The restarted process's CPU from its start: the replay alone.
                let microseconds = (agent.cpuSeconds() ?? 0) / Double(plan.replayEvents) * 1e6
                return (Double(plan.replayEvents) / Monotonic.seconds(from: started, to: reached), microseconds)
            }
            cpu.append(microseconds)
            context.say(
                "  run \(run): \(Unit.eventsPerSecond.format(rate)) events/s, "
                    + "\(Unit.microseconds.format(microseconds)) µs CPU/event"
            )
            return rate
        }
        context.record(ResultRow(scenario: label, unit: .eventsPerSecond, samples: samples, target: .atLeast(115_000)))
        context.record(ResultRow(scenario: "replay: agent CPU per event", unit: .microseconds, samples: cpu))
    }
}
