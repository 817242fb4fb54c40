#if canImport(Glibc)
import Glibc
#endif
import ModaAgentTestSupport

/// Acknowledgements while a backlog drains: `drainEvents` (300k) queued with the upstream down,
/// then the upstream back and delivery told to go at once (`modactl flush`, SIGUSR1), while one
/// connection writes 2k events/s. The figure is the ack latency of the lines sent between the
/// flush and the moment the mock holds the backlog: what an application that logs synchronously
/// feels while the daemon catches up. The same run gives the drain's rate and the agent's CPU per
/// event (backlog and paced lines together).
enum DrainScenario {
    static func run(_ context: BenchContext) {
        let plan = context.plan
        let backlog = plan.drainEvents
        let rate = Unit.eventsPerSecond.format(plan.drainRate)
        let label = "drain: ack at \(rate) events/s while a \(Unit.count(backlog)) backlog drains"
        var p50: [Double] = []
        var p99: [Double] = []
        var worst: [Double] = []
        var rates: [Double] = []
        var cpu: [Double] = []
        context.eachRun(label) { run throws(BenchFailure) in
            let figures = try context.withAgent(upstreamDown: true) { agent throws(BenchFailure) in
                try once(context, agent: agent, what: label)
            }
            let window = figures.acks
            p50.append(window.percentile(0.5))
            p99.append(window.percentile(0.99))
            worst.append(window.latenciesMs.last ?? 0)
            rates.append(figures.rate)
            cpu.append(figures.cpuMicroseconds)
            context.say(
                "  run \(run): \(window.latenciesMs.count) acks during the drain: p50 "
                    + "\(Unit.milliseconds.format(window.percentile(0.5))) ms, p99 "
                    + "\(Unit.milliseconds.format(window.percentile(0.99))) ms, max "
                    + "\(Unit.milliseconds.format(window.latenciesMs.last ?? 0)) ms; drained at "
                    + "\(Unit.eventsPerSecond.format(figures.rate)) events/s, "
                    + "\(Unit.microseconds.format(figures.cpuMicroseconds)) µs CPU/event"
            )
        }
        context.record(ResultRow(scenario: label + ", p50", unit: .milliseconds, samples: p50))
        context.record(ResultRow(scenario: label + ", p99", unit: .milliseconds, samples: p99, target: .atMost(10)))
        context.record(ResultRow(scenario: label + ", max", unit: .milliseconds, samples: worst, target: .atMost(30)))
        context.record(ResultRow(scenario: "drain: flush → backlog at mock", unit: .eventsPerSecond, samples: rates))
        context.record(ResultRow(scenario: "drain: agent CPU per event", unit: .microseconds, samples: cpu))
        context.recordPeaks("drain")
    }

    private struct Figures {
        var acks: PacedResult
        var rate: Double
        var cpuMicroseconds: Double
    }

    private static func once(_ context: BenchContext, agent: AgentChild, what: String) throws(BenchFailure) -> Figures {
        let plan = context.plan
        let backlog = plan.drainEvents
        try context.load(agent, events: backlog, "drain: filling the queue")
        let paced = Int(plan.drainRate * (plan.drainLeadSeconds + plan.drainSeconds))
        let load = PacedLoad(
            socketPath: agent.socketPath,
            rate: plan.drainRate,
            events: paced,
            firstSeq: backlog,
            stallSeconds: plan.stallSeconds
        )
        let cpuBefore = agent.cpuSeconds() ?? 0
        let results = Collector<Result<PacedResult, BenchFailure>>()
        let threads = ThreadGroup()
        threads.spawn("bench-drain-paced") {
            do throws(BenchFailure) { results.add(.success(try load.run())) } catch { results.add(.failure(error)) }
        }
        // The paced connection is steady before the drain starts; the upstream stays down until then,
        // so a retry falling due meanwhile cannot start the drain early.
        Monotonic.sleep(seconds: plan.drainLeadSeconds)
        context.mock.resetTally(target: backlog)
        context.setUpstream(down: false)
        let flushed = Monotonic.now()
        guard kill(agent.pid, SIGUSR1) == 0 else { throw BenchFailure("cannot signal the daemon to flush") }
        let drained = try context.mock.waitForTarget(stallSeconds: plan.stallSeconds) { agent.isRunning }
        threads.wait()
        let result: PacedResult
        switch results.all.first {
        case .success(let paced)?: result = paced
        case .failure(let error)?: throw error
        case nil: throw BenchFailure("the paced load did not report")
        }
        try result.check(what)
        // Every line, the backlog's and the paced ones, must reach the mock.
        let total = backlog + paced
        var seen = context.mock.tally.deliveredEvents
        var lastProgress = Monotonic.now()
        while context.mock.tally.deliveredEvents < total {
            let now = Monotonic.now()
            if context.mock.tally.deliveredEvents != seen {
                seen = context.mock.tally.deliveredEvents
                lastProgress = now
            } else if Monotonic.seconds(from: lastProgress, to: now) > plan.stallSeconds {
                throw BenchFailure("the mock holds \(seen) of \(total) events: events missing")
            }
            Monotonic.sleep(seconds: 0.005)
        }
        let cpu = ((agent.cpuSeconds() ?? 0) - cpuBefore) / Double(total) * 1e6
        let acks = result.during(flushed, drained)
        guard !acks.latenciesMs.isEmpty else { throw BenchFailure("no paced line was sent during the drain") }
        let rate = Double(backlog) / Monotonic.seconds(from: flushed, to: drained)
        return Figures(acks: acks, rate: rate, cpuMicroseconds: cpu)
    }
}
