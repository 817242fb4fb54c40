import ModaAgentTestSupport

/// A 10 s outage: events flow at a steady 10k/s from 1 s before the outage until it ends; the
/// mock answers 503 for 10 s from the first 503 it serves, then 200 again. The figure is the
/// seconds from that first 503 until the mock holds every event, with the shipped retry
/// settings (backoff from 1 s, doubling, up to 30 s): what an operator waits after an incident.
/// Then the same outage during a full run (1M events as fast as the daemon takes them).
enum OutageScenario {
    static func run(_ context: BenchContext) {
        let plan = context.plan
        let label = "outage: \(Unit.seconds.format(plan.outageSeconds)) s of 503s, first 503 → all delivered"
        var cpu: [Double] = []
        let samples = context.samples(label) { run throws(BenchFailure) in
            let (seconds, microseconds) = try context.withAgent { agent throws(BenchFailure) in
                let seconds = try once(context, agent: agent)
                let events = Int(plan.outageRate * (plan.outageLeadSeconds + plan.outageSeconds))
                return (seconds, (agent.cpuSeconds() ?? 0) / Double(events) * 1e6)
            }
            cpu.append(microseconds)
            context.say(
                "  run \(run): all delivered \(Unit.seconds.format(seconds)) s after the first 503, "
                    + "\(Unit.microseconds.format(microseconds)) µs CPU/event"
            )
            return seconds
        }
        context.record(ResultRow(scenario: label, unit: .seconds, samples: samples, target: .atMost(20)))
        context.record(ResultRow(scenario: "outage: agent CPU per event", unit: .microseconds, samples: cpu))
        context.recordPeaks("outage at \(Unit.eventsPerSecond.format(plan.outageRate)) events/s")
        runDuringLoad(context)
    }

    /// The same outage while a full run's events (1M) stream in as fast as the daemon takes them:
    /// the backlog grows by the whole run while every request is refused, then drains. What it
    /// shows is memory: delivery retrying with the queue growing must not hold more than in flight.
    static func runDuringLoad(_ context: BenchContext) {
        let plan = context.plan
        let count = Unit.count(plan.events)
        let label = "outage: \(Unit.seconds.format(plan.outageSeconds)) s of 503s during the \(count) run, first 503 → all delivered"
        var cpu: [Double] = []
        let samples = context.samples(label) { run throws(BenchFailure) in
            let (seconds, peak, microseconds) = try context.withAgent { agent throws(BenchFailure) in
                let seconds = try duringLoad(context, agent: agent)
                return (seconds, agent.peakMiB() ?? 0, (agent.cpuSeconds() ?? 0) / Double(plan.events) * 1e6)
            }
            cpu.append(microseconds)
            context.say(
                "  run \(run): all delivered \(Unit.seconds.format(seconds)) s after the first 503, peak RSS "
                    + "\(Unit.mebibytes.format(peak)) MiB, \(Unit.microseconds.format(microseconds)) µs CPU/event"
            )
            return seconds
        }
        context.record(ResultRow(scenario: label, unit: .seconds, samples: samples))
        context.record(
            ResultRow(
                scenario: "outage during the \(count) run: agent CPU per event",
                unit: .microseconds,
                samples: cpu
            )
        )
        context.recordPeaks("\(Unit.seconds.format(plan.outageSeconds)) s outage during the \(count) run")
    }

    private static func duringLoad(_ context: BenchContext, agent: AgentChild) throws(BenchFailure) -> Double {
        let plan = context.plan
        context.mock.resetTally(target: plan.events)
        let load = LoadGenerator(
            socketPath: agent.socketPath,
            connections: 4,
            events: plan.events,
            stallSeconds: plan.stallSeconds
        )
        let what = "outage load (\(Unit.count(plan.events)))"
        return try outage(context, agent: agent, thread: "bench-outage-1m-load", what: what) {
            () throws(BenchFailure) -> LoadResult in try load.run()
        } check: { result, what throws(BenchFailure) in
            try result.check(what)
        }
    }

    private static func once(_ context: BenchContext, agent: AgentChild) throws(BenchFailure) -> Double {
        let plan = context.plan
        let events = Int(plan.outageRate * (plan.outageLeadSeconds + plan.outageSeconds))
        context.mock.resetTally(target: events)
        let load = PacedLoad(
            socketPath: agent.socketPath,
            rate: plan.outageRate,
            events: events,
            stallSeconds: plan.stallSeconds
        )
        return try outage(context, agent: agent, thread: "bench-outage-load", what: "outage load") {
            () throws(BenchFailure) -> PacedResult in try load.run()
        } check: { result, what throws(BenchFailure) in
            try result.check(what)
        }
    }

    /// Runs `load` on a thread of its own, takes the upstream down `outageLeadSeconds` in for
    /// `outageSeconds`, and returns the seconds from the first 503 until the mock holds every event.
    private static func outage<Result: Sendable>(
        _ context: BenchContext,
        agent: AgentChild,
        thread: String,
        what: String,
        load: @escaping @Sendable () throws(BenchFailure) -> Result,
        check: (Result, String) throws(BenchFailure) -> Void
    ) throws(BenchFailure) -> Double {
        let plan = context.plan
        let mock = context.mock
        let results = Collector<Swift.Result<Result, BenchFailure>>()
        let threads = ThreadGroup()
        threads.spawn(thread) {
            do throws(BenchFailure) { results.add(.success(try load())) } catch { results.add(.failure(error)) }
        }
        Monotonic.sleep(seconds: plan.outageLeadSeconds)
        context.setUpstream(down: true)
        // The outage is timed from the first 503 actually served: delivery may be between batches.
        let firstRefusal = mock.waitForFirstRefusal(seconds: 10)
        if let firstRefusal {
            Monotonic.sleep(until: firstRefusal + UInt64(plan.outageSeconds * 1e9))
        }
        context.setUpstream(down: false)
        threads.wait()
        guard let firstRefusal else {
            throw BenchFailure("no delivery attempt reached the mock within 10 s of the outage start")
        }
        switch results.all.first {
        case .success(let result)?: try check(result, what)
        case .failure(let error)?: throw error
        case nil: throw BenchFailure("the outage load did not report")
        }
        // Backoff can add up to retryMaxSeconds (30 s) of silence after the outage: allow for it.
        let reached = try mock.waitForTarget(stallSeconds: plan.outageSeconds + 45) { agent.isRunning }
        context.say("  \(mock.tally.refusals) requests refused with 503")
        return Monotonic.seconds(from: firstRefusal, to: reached)
    }
}
