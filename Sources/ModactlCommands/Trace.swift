import ArgumentParser
import ModaAgentCore

struct Trace: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Where events are: queued, in flight, delivered or dead-lettered.",
        discussion: """
            IDs are the queue ids replies carry: {"ok":true,"accepted":2,"firstId":1041} is events 1041 and 1042 \
            (HTTP: "firstId" beside "count"). Each event's state: queued (for how long), in flight (since when, \
            attempt), delivered (when, Moda's requestId, request latency), dead-lettered (when, status, message, \
            dead-letter id), or unknown (older than the delivery log keeps: trace.retentionHours, trace.maxBytes). \
            Reads the queue database and works with the daemon stopped, like status; "in flight" needs the daemon's \
            tail socket (root or the daemon's user). See also: modactl tail.
            """
    )

    @Argument(help: "Event ids (a reply's firstId and the ids after it).") var ids: [Int64] = []
    @Option(help: "Every event of this conversation_id (conversationId) instead of ids.") var conversation: String?
    @Option(
        help:
            "With --conversation: only events received, delivered or dead-lettered within DURATION (30s, 15m, 12h, 7d)."
    )
    var since: String?
    @Flag(help: "Print a JSON array of {id, state, ...} objects.") var json = false

    func validate() throws {
        guard ids.isEmpty != (conversation == nil) else {
            throw ValidationError("give event ids or --conversation CID (not both)")
        }
        if let since {
            guard conversation != nil else { throw ValidationError("--since goes with --conversation") }
            guard Durations.parse(since) != nil else {
                throw ValidationError("--since \(since): use a duration like 30s, 15m, 12h or 7d")
            }
        }
    }

    func run() throws {
        let config = try GlobalOptions.loadConfig()
        let traces: [EventTrace]
        do {
            let tracer = try EventTracer(queuePath: config.queue.path)
            defer { tracer.close() }
            let inFlight = TailClient.inFlight(socketPath: TailServer.path(queuePath: config.queue.path))
            if let conversation {
                let after = since.flatMap(Durations.parse).map { Timestamp.now() - $0 }
                traces = try tracer.trace(conversation: conversation, since: after, inFlight: inFlight)
            } else {
                traces = try tracer.trace(ids: ids, inFlight: inFlight)
            }
        } catch {
            fail(error.description)
        }
        let now = Timestamp.now()
        if json {
            let times = ISO8601Cache()
            print(
                traces.isEmpty
                    ? "[]"
                    : "[\n" + traces.map { "  " + $0.jsonLine(now: now, times: times) }.joined(separator: ",\n") + "\n]"
            )
            return
        }
        if traces.isEmpty, let conversation {
            print("no events of conversation \(conversation) in the queue, dead letters or delivery log")
            return
        }
        var out = "ID".padded(10) + "STATE".padded(15) + "DETAILS\n"
        for trace in traces { out += trace.text(now: now) + "\n" }
        print(out, terminator: "")
    }
}
