/// Acknowledgement latency at a steady 10k events/s on one connection, durability full, delivery
/// running (the mock is up): the time from handing a line to the kernel to reading its reply.
enum LatencyScenario {
    static func run(_ context: BenchContext) {
        let plan = context.plan
        let label = "latency: ack at \(Unit.eventsPerSecond.format(plan.latencyRate)) events/s"
        var p50: [Double] = []
        var p99: [Double] = []
        var p999: [Double] = []
        context.eachRun(label) { run throws(BenchFailure) in
            let result = try context.withAgent { agent throws(BenchFailure) in
                let load = PacedLoad.latency(plan, socketPath: agent.socketPath)
                let result = try load.run()
                try result.check(label)
                return result
            }
            p50.append(result.percentile(0.5))
            p99.append(result.percentile(0.99))
            p999.append(result.percentile(0.999))
            context.say(
                "  run \(run): p50 \(Unit.milliseconds.format(result.percentile(0.5))) ms, "
                    + "p99 \(Unit.milliseconds.format(result.percentile(0.99))) ms, "
                    + "p999 \(Unit.milliseconds.format(result.percentile(0.999))) ms, "
                    + "max \(Unit.milliseconds.format(result.latenciesMs.last ?? 0)) ms"
            )
        }
        context.record(ResultRow(scenario: label + ", p50", unit: .milliseconds, samples: p50))
        context.record(ResultRow(scenario: label + ", p99", unit: .milliseconds, samples: p99, target: .atMost(5)))
        context.record(ResultRow(scenario: label + ", p999", unit: .milliseconds, samples: p999))
    }
}
