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
            lines.append("Next attempt: \(Self.when(next, now: now)) (attempt \(delivery.attempts + 1))")
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
        if !redaction.rules.isEmpty {
            lines.append("   Redaction: \(redactionLine)")
        }
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

    /// `12 events redacted (email 9, payment_card 3); secrets, payment_card, email on`.
    var redactionLine: String {
        let findings = redaction.findings.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        var line = "\(redaction.redactedEvents) \(redaction.redactedEvents == 1 ? "event" : "events") redacted"
        if !findings.isEmpty { line += " (\(findings.joined(separator: ", ")))" }
        return line + "; \(redaction.rules.joined(separator: ", ")) on"
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
            hints.append("Start the daemon: \(StartHint.start())")
        }
        switch delivery.state {
        case .unauthorized:
            hints.append("Moda refused the API key: fix it, then \(StartHint.reload()) (or `modactl flush`).")
        case .misconfigured where delivery.lastError.map(TransportFailureText.isCertificateProblem) == true:
            hints.append(
                "The endpoint's TLS certificate is not trusted: set delivery.caFile to your network's CA (PEM), "
                    + "then \(StartHint.reload()) (docs/networks.md)."
            )
        case .misconfigured:
            hints.append("Moda answered 404: check `endpoint` in the config, then \(StartHint.reload()).")
        case .retrying where delivery.lastError.map(TransportFailureText.blamesProxy) == true:
            hints.append(
                "The proxy between this host and Moda is refusing (see Last error): fix delivery.proxy or HTTPS_PROXY, "
                    + "then \(StartHint.reload()). Batches are retried with backoff."
            )
        case .retrying:
            hints.append(Self.retryingCause(delivery.lastError))
            hints.append("Events wait in the queue and are retried with backoff; `modactl flush` tries at once.")
        default:
            break
        }
        if traces.shown {
            switch traces.delivery.state {
            case .unauthorized:
                hints.append("Trace exports: the traces endpoint refused the API key; fix it, then reload.")
            case .misconfigured:
                hints.append("Trace exports: check `tracesEndpoint` (or `endpoint`) in the config, then reload.")
            case .retrying:
                hints.append("Trace exports: " + Self.retryingCause(traces.delivery.lastError))
            default:
                break
            }
        }
        if deadLetters + traces.deadLetters > 0 {
            hints.append(
                "Inspect dead letters: modactl dead-letters list; after fixing, modactl dead-letters replay --all"
            )
        }
        return hints
    }
}

extension StatusReport {
    /// When the next attempt is: `in 12.3s` while the backoff runs, `due` once it has passed (the
    /// attempt is being made, or waits for a request slot).
    static func when(_ next: Double, now: Double) -> String {
        let left = ((next - now) * 10).rounded() / 10
        return left > 0 ? "in \(Durations.human(left))" : "due"
    }

    /// What the last failure says about where the trouble is, so the hint sends the operator to
    /// the right place: a name that does not resolve is the network's or the config's, a 503 Moda's.
    static func retryingCause(_ error: DeliveryStatus.LastError?) -> String {
        guard let error else { return "Delivery failed and is waiting to try again." }
        switch DeliveryFault.cause(status: error.status, message: error.message) {
        case .unresolvedHost:
            return "The endpoint's host name does not resolve: check the network, DNS and `endpoint` in the config."
        case .cannotConnect:
            return "Nothing accepts connections at the endpoint: check the network, a firewall and `endpoint`."
        case .timedOut:
            return "No answer within delivery.timeoutSeconds: the network or Moda is slow, or a firewall drops packets."
        case .closedEarly:
            return "The endpoint closed the connection before answering: check a proxy or firewall on the way."
        case .noResponse:
            return "No response from the endpoint (see Last error): check the network and `endpoint`."
        case .answered(let status) where status == 429:
            return "Moda answered 429: it asks for fewer requests right now."
        case .answered(let status) where (500..<600).contains(status):
            return "Moda answered \(status): it is not accepting batches right now."
        case .answered(let status):
            return "Moda answered \(status) without accepting the batch (see Last error)."
        }
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
