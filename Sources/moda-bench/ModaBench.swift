import ArgumentParser
import Foundation
import ModaAgentTestSupport

/// `moda-bench`: starts the real `moda-agent` against an in-process mock Moda API, drives it with
/// its own load generator, and prints one table (median, min, max over the runs, the issue's
/// target, pass/miss) plus the harness's own ceilings. Exits non-zero only when something
/// functionally failed (events missing, a refused line, a crashed daemon), never on a figure.
@main
struct ModaBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "moda-bench",
        abstract: "Benchmark of moda-agent: ingest, latency, end to end, replay, outage, memory.",
        discussion: """
            The daemon is the moda-agent binary beside moda-bench (or --agent), run with a generated config in a \
            fresh folder per run; the Moda API is an in-process mock on 127.0.0.1. Progress goes to stderr, the \
            results table (Markdown) to stdout. Run a release build on an otherwise idle machine: make bench
            """
    )

    @Flag(help: "Smoke test for CI: small counts, 1 run, a 2 s outage. Timing never fails it.")
    var quick = false

    @Option(help: "Runs per scenario (default 3; 1 with --quick).")
    var runs: Int?

    @Option(
        help:
            "Events of the end-to-end and backlog runs (default 1000000; 20000 with --quick). Ingest runs use 30 %, replay 50 %."
    )
    var events: Int?

    @Option(
        parsing: .upToNextOption,
        help: ArgumentHelp(
            "Scenarios to run (default: all, in this order): "
                + "ceilings ingest latency drain e2e wan replay outage memory tail."
        )
    )
    var scenario: [ScenarioName] = []

    @Option(
        help: ArgumentHelp(
            "The moda-agent binary (default: the one beside moda-bench). Repeat it to compare binaries side by side: "
                + "each scenario then runs every binary in turn, its rows named after the binary's folder."
        )
    )
    var agent: [String] = []

    @Option(
        help: "Folder for the daemons' queues and sockets; must be a real disk for durability to cost what it does."
    )
    var workDir = "/tmp"

    @Flag(help: "Keep each daemon's folder (config, queue, log) for inspection instead of removing it.")
    var keep = false

    @Flag(help: "Run the daemons with the monitoring listener on (metrics recorded, the queue sampled every second).")
    var monitoring = false

    @Flag(
        help: ArgumentHelp(
            "Run each binary twice in turn, without and with redaction (detectors secrets, payment_card, email), "
                + "rows \"NAME: \" and \"NAME+redaction: \": its cost, side by side in one run."
        )
    )
    var redaction = false

    func validate() throws {
        if let runs, runs < 1 { throw ValidationError("--runs must be at least 1") }
        if let events, events < 100 { throw ValidationError("--events must be at least 100") }
    }

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        let plan = BenchPlan.make(quick: quick, runs: runs, events: events)
        let binaries = agent.isEmpty ? [Self.besideSelf("moda-agent")] : agent
        for binary in binaries where !FileManager.default.isExecutableFile(atPath: binary) {
            throw ValidationError("no moda-agent at \(binary); build it (swift build) or pass --agent PATH")
        }
        let binary = binaries.joined(separator: ", ")
        let mock: MockModaServer
        do {
            mock = try MockModaServer.startBlocking(recording: .countOnly)
        } catch {
            throw BenchFailure("cannot start the mock server: \(error)")
        }
        defer { try? mock.shutdownBlocking() }
        let context = BenchContext(
            plan: plan,
            agentBinary: binaries[0],
            workRoot: workDir,
            mock: mock,
            keep: keep,
            monitoring: monitoring
        )
        if BenchWorkspace.isTmpfs(workDir) {
            context.say(
                "warning: \(workDir) is a tmpfs: fsync is free there and durability full is flattered; use --work-dir"
            )
        }
        let selected = ScenarioName.allCases.filter { scenario.isEmpty || scenario.contains($0) }
        let started = Monotonic.now()
        let loadBefore = Self.loadAverage()
        context.say(
            "moda-bench: \(binary), \(plan.quick ? "quick" : "full"), \(plan.runs) run(s) per scenario, "
                + "\(plan.events) events; load average before: \(loadBefore)"
        )
        for name in selected {
            // The harness's own ceilings do not depend on the daemon: measured once.
            let variants = binaries.flatMap { binary in redaction ? [(binary, false), (binary, true)] : [(binary, false)] }
            for (binary, redacting) in name == .ceilings ? [(binaries[0], false)] : variants {
                context.agentBinary = binary
                context.redaction = redacting ? ["secrets", "payment_card", "email"] : []
                context.rowPrefix =
                    variants.count > 1 && name != .ceilings
                    ? Self.shortName(binary) + (redacting ? "+redaction" : "") + ": " : ""
                context.say("== \(name.rawValue)\(context.rowPrefix.isEmpty ? "" : " (\(binary))")")
                _ = context.takePeaks()
                switch name {
                case .ceilings: CeilingScenario.run(context)
                case .ingest:
                    IngestScenario.run(context)
                    context.recordPeaks("ingest (every run)")
                case .latency:
                    LatencyScenario.run(context)
                    context.recordPeaks("latency")
                case .drain: DrainScenario.run(context)
                case .e2e: EndToEndScenario.run(context)
                case .wan: WANScenario.run(context)
                case .replay:
                    ReplayScenario.run(context)
                    context.recordPeaks("replay (filling and draining)")
                case .outage: OutageScenario.run(context)
                case .memory:
                    MemoryScenario.run(context)
                    context.recordPeaks("memory (idle, 1M backlog, restarts)")
                case .tail: TailScenario.run(context)
                }
            }
        }
        context.rowPrefix = ""
        let ceilings = CeilingReport(context: context)
        for row in ceilings.rows { context.record(row) }
        let elapsed = Monotonic.seconds(from: started, to: Monotonic.now())

        print(
            "moda-bench \(plan.quick ? "--quick " : "")· \(plan.runs) run(s) per scenario · \(ProcessInfo.processInfo.activeProcessorCount) cores · "
                + "load average before \(loadBefore), after \(Self.loadAverage()) · \(Unit.seconds.format(elapsed)) s in all"
        )
        print("")
        print(ResultTable.render(context.rows))
        print("")
        for line in ceilings.lines { print(line) }
        print("")
        for line in Self.legend(plan) { print(line) }
        if !context.failures.isEmpty {
            print("")
            print("FUNCTIONAL FAILURES (\(context.failures.count)):")
            for failure in context.failures { print("- \(failure)") }
            throw ExitCode.failure
        }
    }

    /// How to read the rows: what each scenario holds fixed.
    private static func legend(_ plan: BenchPlan) -> [String] {
        [
            "ingest: \(Unit.count(plan.ingestEvents)) events per run, upstream down (the mock answers 503), so it times "
                + "socket → validation → group commit → reply alone.",
            "latency: one connection paced at \(Unit.count(Int(plan.latencyRate)))/s for \(Unit.seconds.format(plan.latencySeconds)) s, "
                + "durability full, delivery running; line written → its reply read.",
            "drain: \(Unit.count(plan.drainEvents)) events queued with the upstream down, then the upstream back and "
                + "`modactl flush`; the acks of one connection paced at \(Unit.count(Int(plan.drainRate)))/s, "
                + "for the lines sent between the flush and the moment the mock holds the backlog.",
            "CPU per event: the daemon's user + system CPU time (/proc/PID/stat) over the run, divided by its events.",
            "end to end, replay, outage: durability full, the shipped batch and retry settings (1000 events, 1 s flush, "
                + "backoff 1 → 30 s); outage load \(Unit.count(Int(plan.outageRate)))/s from \(Unit.seconds.format(plan.outageLeadSeconds)) s "
                + "before the outage until it ends.",
            "end to end, 50 ms upstream: every POST answered after 50 ms (a WAN round trip), \(Unit.count(max(100, plan.events))) "
                + "events over 4 connections, 64 conversations; delivery.maxInFlight 8 (adaptive).",
            "outage during a \(Unit.count(plan.events)) run: the events streamed as fast as the daemon takes them, the "
                + "upstream answering 503 for \(Unit.seconds.format(plan.outageSeconds)) s from \(Unit.seconds.format(plan.outageLeadSeconds)) s "
                + "after the first write.",
            "memory: VmRSS / VmHWM from /proc in MiB; idle RssAnon (heap, stacks) and RssFile (pages of the binary and "
                + "libraries) are its two parts; \"just filled\" is a single sample after one fill. \"peak RSS\" rows: "
                + "each daemon's VmHWM (over its restarts), shipped defaults; the target is the issue's, met by the median.",
        ]
    }

    /// A binary's name in the table: its folder's, which tells builds apart (`bench-before`, `release`).
    private static func shortName(_ binary: String) -> String {
        URL(fileURLWithPath: binary).deletingLastPathComponent().lastPathComponent
    }

    /// Where the running executable is, with `name` beside it (the products of one `swift build`).
    private static func besideSelf(_ name: String) -> String {
        let executable =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent(name).path
    }

    /// The 1, 5 and 15 minute load averages: a busy machine explains a noisy figure.
    private static func loadAverage() -> String {
        let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? ""
        return text.split(separator: " ").prefix(3).joined(separator: " ")
    }
}
