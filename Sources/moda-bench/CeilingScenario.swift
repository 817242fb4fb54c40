/// The harness's own limits, measured first while nothing else runs: the mock's intake (1,000-
/// event POSTs from 2 keep-alive clients) and the load generator's output (lines into a sink that
/// answers every line at once, 4 connections, as in the end-to-end run). Both must be at least 3×
/// the agent's figures, or the benchmark would be measuring itself.
enum CeilingScenario {
    static func run(_ context: BenchContext) {
        let plan = context.plan
        for run in 1...plan.runs {
            do throws(BenchFailure) {
                let probe = MockCeilingProbe(connections: 2, requestsPerConnection: plan.probeRequests)
                let ceiling = try probe.run(mock: context.mock)
                context.mockCeiling.append(ceiling)
                context.say(
                    "  run \(run): mock \(Unit.requestsPerSecond.format(ceiling.requestsPerSecond)) requests/s, "
                        + "\(Unit.eventsPerSecond.format(ceiling.eventsPerSecond)) events/s"
                )
            } catch {
                context.fail("ceiling of the mock", error)
            }
            do throws(BenchFailure) {
                let rate = try generatorCeiling(context)
                context.generatorCeiling.append(rate)
                context.say("  run \(run): load generator \(Unit.eventsPerSecond.format(rate)) lines/s into a sink")
            } catch {
                context.fail("ceiling of the load generator", error)
            }
        }
    }

    private static func generatorCeiling(_ context: BenchContext) throws(BenchFailure) -> Double {
        let workspace = try BenchWorkspace(root: context.workRoot)
        defer { workspace.remove() }
        let path = workspace.file("sink.sock")
        let connections = 4
        let sink = try SinkServer(path: path, connections: connections)
        defer { sink.finish() }
        let result = try LoadGenerator(socketPath: path, connections: connections, events: context.plan.events).run()
        try result.check("load generator into the sink")
        return result.eventsPerSecond
    }
}
