/// Backlog replay: 500k events queued through the socket while the upstream is down, the daemon
/// restarted (SIGTERM, then a fresh process on the same queue), the upstream up. Timed from the
/// new process's start until the mock holds the whole backlog, so startup counts too.
enum ReplayScenario {
    static func run(_ context: BenchContext) {
        let plan = context.plan
        let label = "replay: \(Unit.count(plan.replayEvents)) backlog, restart → drained"
        var samples: [Double] = []
        for run in 1...plan.runs {
            do throws(BenchFailure) {
                let rate = try context.withAgent(upstreamDown: true) { agent throws(BenchFailure) in
                    let stats = context.mock.stats
                    let fill = LoadGenerator(
                        socketPath: agent.socketPath,
                        connections: 4,
                        events: plan.replayEvents,
                        stallSeconds: plan.stallSeconds
                    )
                    try fill.run().check("replay: filling the queue")
                    try agent.stop()
                    stats.unavailable.store(false, ordering: .sequentiallyConsistent)
                    stats.reset(target: plan.replayEvents)
                    let started = Monotonic.now()
                    try agent.start()
                    let reached = try stats.waitForTarget(stallSeconds: plan.stallSeconds) { agent.isRunning }
                    return Double(plan.replayEvents) / Monotonic.seconds(from: started, to: reached)
                }
                samples.append(rate)
                context.say("  run \(run): \(Unit.eventsPerSecond.format(rate)) events/s")
            } catch {
                context.fail(label, error)
            }
        }
        context.record(ResultRow(scenario: label, unit: .eventsPerSecond, samples: samples, target: .atLeast(115_000)))
    }
}
