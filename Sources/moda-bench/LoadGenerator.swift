import ModaAgentTestSupport

/// Throughput load on the agent's socket: `connections` connections, each with a writer thread
/// that streams its share of the events in blocks of `blockLines` lines and a reader thread that
/// counts replies as they arrive, so the agent is never held up by an unread socket. A writer
/// half-closes its connection when done; a reader stops at its last reply, at end of stream, or
/// when nothing arrived for `stallSeconds` (a hung agent fails the run instead of hanging it).
struct LoadGenerator: Sendable {
    let socketPath: String
    let connections: Int
    let events: Int
    /// Sequence number of the first event; connections take consecutive ranges.
    var firstSeq = 0
    var blockLines = 200
    var stallSeconds = 20.0

    func run() throws(BenchFailure) -> LoadResult {
        var sockets: [BlockingSocket] = []
        for _ in 0..<connections {
            sockets.append(try BenchFailure.wrapping(try BlockingSocket.unix(path: socketPath)))
        }
        let outcomes = Collector<ConnectionOutcome>()
        let threads = ThreadGroup()
        let startedAt = Monotonic.now()
        var nextSeq = firstSeq
        for (index, socket) in sockets.enumerated() {
            let share = events / connections + (index < events % connections ? 1 : 0)
            let seq = nextSeq
            nextSeq += share
            let writeError = Collector<String>()
            let blockLines = blockLines
            let stallSeconds = stallSeconds
            threads.spawn("bench-writer-\(index)") {
                Self.write(
                    socket: socket,
                    connection: index,
                    share: share,
                    firstSeq: seq,
                    blockLines: blockLines,
                    errors: writeError
                )
            }
            threads.spawn("bench-reader-\(index)") {
                var outcome = Self.read(socket: socket, share: share, stallSeconds: stallSeconds)
                if outcome.error == nil { outcome.error = writeError.all.first }
                outcomes.add(outcome)
            }
        }
        threads.wait()
        let all = outcomes.all
        return LoadResult(startedAt: startedAt, finishedAt: all.map(\.finishedAt).max() ?? startedAt, outcomes: all)
    }

    private static func write(
        socket: BlockingSocket,
        connection: Int,
        share: Int,
        firstSeq: Int,
        blockLines: Int,
        errors: Collector<String>
    ) {
        var block = EventBlock(capacity: blockLines, connection: connection)
        var sent = 0
        do throws(BenchFailure) {
            while sent < share {
                let count = min(blockLines, share - sent)
                block.number(first: firstSeq + sent, count: count)
                try block.send(count, to: socket)
                sent += count
            }
        } catch {
            errors.add("writer stopped after \(sent) of \(share) lines: \(error)")
        }
        socket.shutdownWrite()
    }

    private static func read(socket: BlockingSocket, share: Int, stallSeconds: Double) -> ConnectionOutcome {
        var counter = ReplyCounter()
        let error = ReplyReader.read(
            from: socket,
            expected: share,
            stallSeconds: stallSeconds,
            bufferBytes: 1 << 18,
            counter: &counter
        )
        return ConnectionOutcome(
            expected: share,
            replies: counter.lines,
            refused: counter.refused,
            firstRefusal: counter.firstRefusal,
            finishedAt: Monotonic.now(),
            error: error
        )
    }
}
