import Foundation
import ModaAgentTestSupport

/// What every scenario needs: the plan, the daemon binary, the shared mock server (counting
/// only), the rows so far, and the functional failures that decide the exit status.
final class BenchContext {
    let plan: BenchPlan
    /// The daemon binary the current scenario runs.
    var agentBinary: String
    /// Put before each row's scenario while several binaries are compared ("NAME: "), else empty.
    var rowPrefix = ""
    let workRoot: String
    let mock: MockModaServer
    /// Keep every daemon's folder (config, queue, log) instead of removing it after the run.
    let keep: Bool
    /// Run every daemon with its monitoring listener on (`monitoring.listen`), which samples the
    /// queue every second and feeds the metrics: the cost of metrics is the difference.
    let monitoring: Bool
    /// Run the daemons with redaction on (`--redaction`): the detectors named here.
    var redaction: [String] = []
    /// `trace.maxBytes` for the daemons (nil: the default); binaries older than the delivery log refuse the key.
    var traceMaxBytes: Int?
    private(set) var rows: [ResultRow] = []
    private(set) var failures: [String] = []
    /// Ceiling samples, turned into rows at the end, once the agent's figures they are compared with are known.
    var mockCeiling: [MockCeilingProbe.Ceiling] = []
    var generatorCeiling: [Double] = []
    /// The peak RSS (MiB) of each daemon `withAgent` ran since `takePeaks`, for the scenarios'
    /// "memory: peak RSS" rows.
    private var peaks: [Double] = []

    init(plan: BenchPlan, agentBinary: String, workRoot: String, mock: MockModaServer, keep: Bool, monitoring: Bool) {
        self.monitoring = monitoring
        self.plan = plan
        self.agentBinary = agentBinary
        self.workRoot = workRoot
        self.mock = mock
        self.keep = keep
    }

    func record(_ row: ResultRow) {
        guard !row.samples.isEmpty else { return }
        var row = row
        row.scenario = rowPrefix + row.scenario
        rows.append(row)
    }

    func fail(_ scenario: String, _ failure: BenchFailure) {
        failures.append("\(scenario): \(failure)")
        say("  FAILED: \(failure)")
    }

    /// Progress, on stderr so stdout holds only the results.
    func say(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// Runs `body` once per planned run; a failed run is reported under `label` and the next one
    /// still runs.
    func eachRun(_ label: String, _ body: (_ run: Int) throws(BenchFailure) -> Void) {
        for run in 1...plan.runs {
            do throws(BenchFailure) {
                try body(run)
            } catch {
                fail(label, error)
            }
        }
    }

    /// `eachRun` for runs that give one figure each: the figures of the runs that passed.
    func samples(_ label: String, _ body: (_ run: Int) throws(BenchFailure) -> Double) -> [Double] {
        var values: [Double] = []
        eachRun(label) { run throws(BenchFailure) in values.append(try body(run)) }
        return values
    }

    /// Streams `events` lines into `agent` over `connections` connections as fast as it takes
    /// them; fails (naming `what`) unless every line was acknowledged.
    @discardableResult
    func load(
        _ agent: AgentChild,
        events: Int,
        connections: Int = 4,
        _ what: String
    ) throws(BenchFailure) -> LoadResult {
        let load = LoadGenerator(
            socketPath: agent.socketPath,
            connections: connections,
            events: events,
            stallSeconds: plan.stallSeconds
        )
        let result = try load.run()
        try result.check(what)
        return result
    }

    /// Takes the upstream down (every request answered 503, as the API does when unavailable) or
    /// brings it back (every batch accepted).
    func setUpstream(down: Bool) {
        mock.respond(down ? .always(Self.unavailable) : .alwaysSuccess)
    }

    private static let unavailable = MockReply.status(503, message: "Service temporarily unavailable", retryable: true)

    /// The peaks collected since the last call, cleared.
    func takePeaks() -> [Double] {
        defer { peaks.removeAll() }
        return peaks
    }

    /// Records a "memory: peak RSS" row (the issue's ≤ 60 MiB with the shipped defaults) from the
    /// daemons run since the last `takePeaks`.
    func recordPeaks(_ what: String) {
        record(ResultRow(scenario: "memory: peak RSS, \(what)", unit: .mebibytes, samples: takePeaks(), target: .atMost(60)))
    }

    /// The medians of the rows whose name starts with `prefix`.
    func medians(_ prefix: String) -> [Double] {
        // A row may carry a binary's name before its scenario (several binaries compared).
        rows.filter { $0.scenario.hasPrefix(prefix) || $0.scenario.contains(": " + prefix) }.compactMap {
            $0.summary?.median
        }
    }

    /// Runs `body` with a started daemon in a fresh workspace (the mock `upstreamDown` or not), then
    /// stops the daemon (a clean exit is part of passing) and removes the workspace. On failure the
    /// daemon is killed and the workspace kept for its log.
    func withAgent<T>(
        durability: String = "full",
        upstreamDown: Bool = false,
        _ body: (AgentChild) throws(BenchFailure) -> T
    ) throws(BenchFailure) -> T {
        setUpstream(down: upstreamDown)
        defer { setUpstream(down: false) }
        let workspace = try BenchWorkspace(root: workRoot)
        let agent: AgentChild
        do {
            agent = try AgentChild(
                binary: agentBinary,
                workspace: workspace,
                endpoint: mock.endpoint,
                durability: durability,
                monitoring: monitoring,
                redaction: redaction,
                traceMaxBytes: traceMaxBytes
            )
        } catch {
            workspace.remove()
            throw error
        }
        do {
            try agent.start()
            let result = try body(agent)
            if let peak = agent.peakMiB() { peaks.append(peak) }
            try agent.stop()
            if keep {
                say("  kept: \(workspace.path)")
            } else {
                workspace.remove()
            }
            return result
        } catch {
            agent.forceKill()
            say("  the daemon's folder is kept: \(workspace.path)")
            throw error
        }
    }
}
