/// The human `modactl status`, laid out like `systemctl status`: a bullet that is green, yellow
/// or red at a glance, then one line per part, then what to do if something needs doing.
extension StatusReport {
    public func text(color: Bool, now: Double = Timestamp.now()) -> String {
        let paint = Painter(enabled: color)
        var lines: [String] = []
        let healthy = daemon.running && (delivery.state == .ok || delivery.state == .idle)
        let bullet = !daemon.running ? paint.red("●") : healthy ? paint.green("●") : paint.yellow("●")
        lines.append("\(bullet) moda-agent - forwarding agent for the Moda ingest API")
        if daemon.running {
            var active = "active (running)"
            if let uptime = daemon.uptimeSeconds { active += " for \(Durations.human(uptime))" }
            lines.append(
                "      Daemon: \(paint.green(active)); pid \(daemon.pid.map(String.init) ?? "?"), version \(daemon.version ?? "?")"
            )
        } else {
            lines.append(
                "      Daemon: \(paint.red("inactive (not running)")); events wait in the queue until it starts"
            )
        }
        var queueLine =
            "\(queue.queuedEvents) \(queue.queuedEvents == 1 ? "event" : "events"), \(Durations.bytes(queue.queuedBytes))"
        if let age = oldestAgeSeconds { queueLine += ", oldest \(Durations.human(age)) old" }
        if queue.droppedEvents > 0 {
            queueLine += paint.yellow(", \(queue.droppedEvents) dropped (queue.whenFull dropOldest)")
        }
        lines.append("       Queue: \(queueLine)")
        lines.append("              \(queuePath)")
        let stateWord = paint.word(delivery.state)
        var deliveryLine = "\(stateWord); \(queue.deliveredEvents) delivered"
        if let success = delivery.lastSuccessAt {
            deliveryLine += ", last success \(Durations.human(now - success)) ago"
        }
        if daemon.running {
            deliveryLine += "; \(delivery.concurrency) of \(maxInFlight) requests in flight allowed"
        }
        lines.append("    Delivery: \(deliveryLine)")
        if let error = delivery.lastError {
            let status = error.status.map { "HTTP \($0)" } ?? "no response"
            lines.append("  Last error: \(status): \(error.message) (\(Durations.human(now - error.at)) ago)")
        }
        if let next = delivery.nextAttemptAt, daemon.running {
            let when = next - now > 0.05 ? "in \(Durations.human(next - now))" : "now"
            lines.append("Next attempt: \(when) (attempt \(delivery.attempts + 1))")
        }
        if traces.shown {
            let counters = traces.counters
            var traceLine =
                "\(counters.queuedExports) queued \(counters.queuedExports == 1 ? "export" : "exports"), "
                + "\(Durations.bytes(counters.queuedBytes))"
            if let age = traces.oldestAgeSeconds { traceLine += ", oldest \(Durations.human(age)) old" }
            traceLine += "; \(paint.word(traces.delivery.state)); \(counters.deliveredExports) delivered"
            lines.append("      Traces: \(traceLine)")
            if let error = traces.delivery.lastError, traces.delivery.state != .ok {
                let status = error.status.map { "HTTP \($0)" } ?? "no response"
                let ago = Durations.human(now - error.at)
                lines.append("              last error: \(status): \(error.message) (\(ago) ago)")
            }
        }
        lines.append("      Memory: \(memoryLine(paint))")
        let deadCount = deadLetters + traces.deadLetters
        var deadLine = deadCount == 0 ? "none" : paint.yellow("\(deadLetters)")
        if traces.deadLetters > 0 {
            let events = "\(deadLetters) \(deadLetters == 1 ? "event" : "events")"
            let exports = "\(traces.deadLetters) trace \(traces.deadLetters == 1 ? "export" : "exports")"
            deadLine = paint.yellow("\(events), \(exports)")
        }
        lines.append(" Dead letters: \(deadLine)")
        // Where to look next for one event or the live flow (docs/tracing.md).
        lines.append("      Follow: modactl trace ID... (a reply's firstId) or --conversation CID; modactl tail --follow")
        if !hints.isEmpty {
            lines.append("")
            lines.append(contentsOf: hints.map { "  \($0)" })
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The memory budget, as `--json`'s `memory` has it: buffered bytes of the limit, read pauses.
    /// Yellow past half the budget, where reading starts to pause for it.
    func memoryLine(_ paint: Painter) -> String {
        let buffered = "\(Durations.bytes(memory.bufferedBytes)) of \(Durations.bytes(memory.maxBufferedBytes)) buffered"
        let pauses = memory.readPauses == 1 ? "1 read pause" : "\(memory.readPauses) read pauses"
        let line = "\(buffered); \(pauses) (memory.maxBufferedBytes)"
        return memory.bufferedBytes > memory.maxBufferedBytes / 2 ? paint.yellow(line) : line
    }

    /// What the operator should do next, if anything.
    var hints: [String] {
        var hints: [String] = []
        if !daemon.running {
            hints.append("Start the daemon: systemctl start moda-agent")
        }
        switch delivery.state {
        case .unauthorized:
            hints.append("Moda refused the API key: fix it, then `systemctl reload moda-agent` (or `modactl flush`).")
        case .misconfigured:
            hints.append("Moda answered 404: check `endpoint` in the config, then `systemctl reload moda-agent`.")
        case .retrying:
            hints.append(
                "Moda is not accepting batches right now; they are retried with backoff. `modactl flush` tries at once."
            )
        default:
            break
        }
        if deadLetters + traces.deadLetters > 0 {
            hints.append(
                "Inspect dead letters: modactl dead-letters list; after fixing, modactl dead-letters replay --all"
            )
        }
        return hints
    }
}

struct Painter {
    var enabled: Bool
    func green(_ text: String) -> String { wrap(text, "32") }
    func yellow(_ text: String) -> String { wrap(text, "33") }
    func red(_ text: String) -> String { wrap(text, "31") }

    /// A delivery state word, colored by how much it needs the operator.
    func word(_ state: DeliveryStatus.State) -> String {
        switch state {
        case .ok: green("ok")
        case .idle: "idle"
        case .retrying: yellow("retrying")
        case .unauthorized, .misconfigured: red(state.rawValue)
        }
    }
    private func wrap(_ text: String, _ code: String) -> String { enabled ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text }
}
