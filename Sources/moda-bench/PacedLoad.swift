import ModaAgentTestSupport

/// Load at a fixed rate on one connection, for latency. Line i is due at t0 + i/rate; the
/// writer sends whatever is due (one line at a time when on schedule, a catch-up burst when late,
/// so a stall shows up as latency rather than as a lower rate) and stamps each line with the time
/// it handed it to the kernel; the reader stamps each reply. The agent answers in input order
/// (docs/protocol.md), so reply k belongs to line k. Each thread keeps its own stamps and they are paired
/// only after both have finished: nothing is shared while the clock runs.
struct PacedLoad: Sendable {
    let socketPath: String
    let rate: Double
    let events: Int
    var firstSeq = 0
    var stallSeconds = 20.0

    func run() throws(BenchFailure) -> PacedResult {
        let socket = try BenchFailure.wrapping(try BlockingSocket.unix(path: socketPath))
        let sendStamps = Collector<[UInt64]>()
        let replyStamps = Collector<[UInt64]>()
        let errors = Collector<String>()
        let replies = Collector<ReplyCounter>()
        let threads = ThreadGroup()
        let (rate, events, firstSeq, stallSeconds) = (rate, events, firstSeq, stallSeconds)
        threads.spawn("bench-paced-writer") {
            sendStamps.add(Self.write(socket: socket, rate: rate, events: events, firstSeq: firstSeq, errors: errors))
        }
        threads.spawn("bench-paced-reader") {
            var counter = ReplyCounter()
            replyStamps.add(
                Self.read(
                    socket: socket,
                    events: events,
                    stallSeconds: stallSeconds,
                    counter: &counter,
                    errors: errors
                )
            )
            replies.add(counter)
        }
        threads.wait()
        let sent = sendStamps.all.first ?? []
        let received = replyStamps.all.first ?? []
        let counter = replies.all.first ?? ReplyCounter()
        var latencies: [Double] = []
        latencies.reserveCapacity(received.count)
        for (sentAt, repliedAt) in zip(sent, received) {
            latencies.append(Double(repliedAt &- sentAt) / 1e6)
        }
        return PacedResult(
            sent: sent.count,
            replies: counter.lines,
            refused: counter.refused,
            firstRefusal: counter.firstRefusal,
            error: errors.all.first,
            sentAt: Array(sent.prefix(latencies.count)),
            inOrder: latencies
        )
    }

    private static func write(
        socket: BlockingSocket,
        rate: Double,
        events: Int,
        firstSeq: Int,
        errors: Collector<String>
    ) -> [UInt64] {
        var stamps: [UInt64] = []
        stamps.reserveCapacity(events)
        var block = EventBlock(capacity: 64, connection: 0)
        let interval = 1e9 / rate
        let start = Monotonic.now()
        do throws(BenchFailure) {
            while stamps.count < events {
                let now = Monotonic.now()
                let due = min(events, Int(Double(now - start) / interval) + 1)
                let sent = stamps.count
                if due > sent {
                    let count = min(due - sent, block.capacity)
                    block.number(first: firstSeq + sent, count: count)
                    try block.send(count, to: socket)
                    for _ in 0..<count { stamps.append(now) }
                } else {
                    Monotonic.sleep(until: start + UInt64(Double(sent) * interval))
                }
            }
        } catch {
            errors.add("paced writer stopped after \(stamps.count) of \(events) lines: \(error)")
        }
        socket.shutdownWrite()
        return stamps
    }

    private static func read(
        socket: BlockingSocket,
        events: Int,
        stallSeconds: Double,
        counter: inout ReplyCounter,
        errors: Collector<String>
    ) -> [UInt64] {
        var stamps: [UInt64] = []
        stamps.reserveCapacity(events)
        let error = ReplyReader.read(
            from: socket,
            expected: events,
            stallSeconds: stallSeconds,
            bufferBytes: 1 << 16,
            counter: &counter
        ) { stamps.append($0) }
        if let error { errors.add(error) }
        return stamps
    }
}

extension PacedLoad {
    /// The latency run: one connection at `plan.latencyRate` for `plan.latencySeconds` (the latency and
    /// tail scenarios).
    static func latency(_ plan: BenchPlan, socketPath: String) -> PacedLoad {
        PacedLoad(
            socketPath: socketPath,
            rate: plan.latencyRate,
            events: Int(plan.latencyRate * plan.latencySeconds),
            stallSeconds: plan.stallSeconds
        )
    }
}
