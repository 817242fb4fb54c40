import Foundation
import ModaAgentTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A stalled `modactl tail --follow` must cost the pipeline nothing (docs/tracing.md): the
/// end-to-end run and the ack latency run, each without a tail and with a tail that asked to
/// follow and never reads, alternated in one run so the machine's noise hits both alike.
enum TailScenario {
    static let name = "stalled tail"

    /// `trace.maxBytes` for these runs: small enough that the end-to-end run fills the delivery log
    /// many times over, so the bound is measured in a real daemon, not only in the writer's tests.
    static let traceMaxBytes = 1 << 20

    static func run(_ context: BenchContext) {
        guard hasTailSocket(context) else {
            context.say("  skipped: \(context.agentBinary) has no tail socket (it is older than modactl tail)")
            return
        }
        let plan = context.plan
        var delivered: [Bool: [Double]] = [false: [], true: []]
        var p99: [Bool: [Double]] = [false: [], true: []]
        var logLargest: [Double] = []
        context.traceMaxBytes = traceMaxBytes
        defer { context.traceMaxBytes = nil }
        context.eachRun(name) { run throws(BenchFailure) in
            for stalled in [false, true] {
                let rate = try context.withAgent { agent throws(BenchFailure) in
                    let tail = stalled ? try StalledTail(agent) : nil
                    defer { _ = tail }
                    let sampler = DeliveryLogSampler(queuePath: agent.workspace.file("queue/queue.db"))
                    context.mock.resetTally(target: plan.events)
                    let result = try context.load(agent, events: plan.events, name)
                    let reached = try context.mock.waitForTarget(stallSeconds: plan.stallSeconds) { agent.isRunning }
                    // The last removals' entries, then the pruning after them.
                    Thread.sleep(forTimeInterval: 1)
                    let log = try sampler.stop()
                    logLargest.append(Double(log.largest))
                    context.say(
                        "  delivery log: largest \(log.largest) B, last \(log.last) B of trace.maxBytes "
                            + "\(traceMaxBytes) (\(log.samples) samples)"
                    )
                    return Double(plan.events) / Monotonic.seconds(from: result.startedAt, to: reached)
                }
                let latency = try context.withAgent { agent throws(BenchFailure) in
                    let tail = stalled ? try StalledTail(agent) : nil
                    defer { _ = tail }
                    let load = PacedLoad.latency(plan, socketPath: agent.socketPath)
                    let result = try load.run()
                    try result.check(name)
                    return result.percentile(0.99)
                }
                delivered[stalled, default: []].append(rate)
                p99[stalled, default: []].append(latency)
                context.say(
                    "  run \(run)\(stalled ? ", stalled tail" : ", no tail"): \(Unit.eventsPerSecond.format(rate)) "
                        + "events/s end to end, ack p99 \(Unit.milliseconds.format(latency)) ms"
                )
            }
        }
        let count = Unit.count(plan.events)
        context.record(
            ResultRow(
                scenario: "tail: delivery log at most, \(count) events, trace.maxBytes \(traceMaxBytes >> 10) KiB",
                unit: .kibibytes,
                samples: logLargest.map { $0 / 1024 }
            )
        )
        for stalled in [false, true] {
            let label = stalled ? "with a stalled tail" : "no tail"
            context.record(
                ResultRow(
                    scenario: "tail: end to end \(count), \(label)",
                    unit: .eventsPerSecond,
                    samples: delivered[stalled] ?? []
                )
            )
            context.record(
                ResultRow(
                    scenario: "tail: ack p99 at \(Unit.eventsPerSecond.format(plan.latencyRate)) events/s, \(label)",
                    unit: .milliseconds,
                    samples: p99[stalled] ?? []
                )
            )
        }
    }
}

extension TailScenario {
    /// Whether the binary opens a tail socket beside its queue (started once, with the default config,
    /// which every binary accepts), so a side-by-side run with an older daemon skips it rather than failing.
    static func hasTailSocket(_ context: BenchContext) -> Bool {
        let probed = try? context.withAgent { agent throws(BenchFailure) -> Bool in
            let path = agent.workspace.file("queue/tail.sock")
            let deadline = Date().addingTimeInterval(5)
            while Date() < deadline {
                if FileManager.default.fileExists(atPath: path) { return true }
                usleep(20_000)
            }
            return false
        }
        return probed ?? false
    }
}

/// A tail that asks to follow everything and never reads: its socket buffers fill, then the
/// daemon drops its records and counts them.
final class StalledTail {
    private let socket: BlockingSocket

    init(_ agent: AgentChild) throws(BenchFailure) {
        let path = agent.workspace.file("queue/tail.sock")
        let deadline = Date().addingTimeInterval(10)
        var connected: BlockingSocket?
        while connected == nil && Date() < deadline {
            connected = try? BlockingSocket.unix(path: path)
            if connected == nil { usleep(10_000) }
        }
        guard let connected else { throw BenchFailure("no tail socket at \(path)") }
        socket = connected
        let request = Array(#"{"follow":true}"#.utf8) + [UInt8(ascii: "\n")]
        do {
            try socket.send(request, prefix: request.count)
        } catch {
            throw BenchFailure("cannot ask the tail socket to follow: \(error)")
        }
    }
}
