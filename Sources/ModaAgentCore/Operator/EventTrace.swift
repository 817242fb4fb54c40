/// Where one event is (docs/tracing.md): what `modactl trace` prints for each id.
public struct EventTrace: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case queued(receivedAt: Double)
        case inFlight(receivedAt: Double, since: Double, attempt: Int)
        case delivered(at: Double, status: Int, requestId: String?, latency: Double?)
        case deadLettered(
            at: Double,
            status: Int,
            message: String,
            deadLetterID: Int64?,
            requestId: String?,
            latency: Double?
        )
        /// Not queued, not dead-lettered, not in the delivery log: older than the log keeps (or never issued).
        case unknown

        public var name: String {
            switch self {
            case .queued: return "queued"
            case .inFlight: return "in flight"
            case .delivered: return "delivered"
            case .deadLettered: return "dead-lettered"
            case .unknown: return "unknown"
            }
        }
    }

    public var id: Int64
    public var state: State

    public init(id: Int64, state: State) {
        self.id = id
        self.state = state
    }

    /// One line of `trace --json`'s array.
    public func json(now: Double) -> OrderedJSON {
        var json = OrderedJSON()
        json.add("id", JSONValue(id))
        json.add("state", .string(state.name))
        switch state {
        case .queued(let receivedAt):
            json.add("receivedAt", .string(Timestamp.iso8601(receivedAt)))
            json.add("queuedSeconds", .double(Self.rounded(max(0, now - receivedAt))))
        case .inFlight(let receivedAt, let since, let attempt):
            json.add("receivedAt", .string(Timestamp.iso8601(receivedAt)))
            json.add("since", .string(Timestamp.iso8601(since)))
            json.add("attempt", JSONValue(attempt))
        case .delivered(let at, let status, let requestId, let latency):
            json.add("at", .string(Timestamp.iso8601(at)))
            json.add("status", JSONValue(status))
            json.add("requestId", JSONValue(requestId))
            json.add("latencyMs", JSONValue(latency.map { Self.rounded($0 * 1000) }))
        case .deadLettered(let at, let status, let message, let deadLetterID, let requestId, let latency):
            json.add("at", .string(Timestamp.iso8601(at)))
            json.add("status", JSONValue(status))
            json.add("message", .string(message))
            json.add("deadLetterId", JSONValue(deadLetterID))
            json.add("requestId", JSONValue(requestId))
            json.add("latencyMs", JSONValue(latency.map { Self.rounded($0 * 1000) }))
        case .unknown:
            break
        }
        return json
    }

    /// `json(now:).line`, written straight into a string with the times from `times`:
    /// `trace --conversation` prints a line per event, 100,000 in well under a second.
    public func jsonLine(now: Double, times: ISO8601Cache) -> String {
        var out = "{\"id\":\(id),\"state\":\"\(state.name)\""
        func add(_ key: String, _ value: String) { out += ",\"\(key)\":" + value }
        func number(_ value: Double) -> String {
            var text = ""
            OrderedJSON.write(.double(value), to: &text)
            return text
        }
        func text(_ value: String?) -> String { value.map(JSONText.quoted) ?? "null" }
        switch state {
        case .queued(let receivedAt):
            add("receivedAt", times.quoted(receivedAt))
            add("queuedSeconds", number(Self.rounded(max(0, now - receivedAt))))
        case .inFlight(let receivedAt, let since, let attempt):
            add("receivedAt", times.quoted(receivedAt))
            add("since", times.quoted(since))
            add("attempt", String(attempt))
        case .delivered(let at, let status, let requestId, let latency):
            add("at", times.quoted(at))
            add("status", String(status))
            add("requestId", times.quotedText(requestId))
            add("latencyMs", latency.map { number(Self.rounded($0 * 1000)) } ?? "null")
        case .deadLettered(let at, let status, let message, let deadLetterID, let requestId, let latency):
            add("at", times.quoted(at))
            add("status", String(status))
            add("message", text(message))
            add("deadLetterId", deadLetterID.map { String($0) } ?? "null")
            add("requestId", text(requestId))
            add("latencyMs", latency.map { number(Self.rounded($0 * 1000)) } ?? "null")
        case .unknown:
            break
        }
        return out + "}"
    }

    /// One line of the text output: the id, the state, and what is known of it.
    public func text(now: Double) -> String {
        let detail: String
        switch state {
        case .queued(let receivedAt):
            detail = "for \(Self.duration(now - receivedAt)) (received \(Timestamp.iso8601(receivedAt)))"
        case .inFlight(_, let since, let attempt):
            detail = "since \(Timestamp.iso8601(since)) (attempt \(attempt))"
        case .delivered(let at, let status, let requestId, let latency):
            detail =
                "\(Timestamp.iso8601(at))  request \(requestId ?? "-")  (\(status)"
                + (latency.map { ", \(Self.milliseconds($0))" } ?? "") + ")"
        case .deadLettered(let at, let status, let message, let deadLetterID, let requestId, _):
            let letter = deadLetterID.map { "dead letter \($0)" } ?? "dead letter purged"
            detail = "\(Timestamp.iso8601(at))  \(status) \(message)  (\(letter), request \(requestId ?? "-"))"
        case .unknown:
            detail =
                "not queued, dead-lettered or in the delivery log (older than trace.retentionHours and "
                + "trace.maxBytes keep, or not an event id yet)"
        }
        return String(id).padded(10) + state.name.padded(15) + detail
    }

    static func rounded(_ value: Double) -> Double { (value * 10).rounded() / 10 }

    static func milliseconds(_ seconds: Double) -> String {
        seconds < 0.01 ? "\(rounded(seconds * 1000)) ms" : "\(Int((seconds * 1000).rounded())) ms"
    }

    static func duration(_ seconds: Double) -> String {
        let seconds = max(0, seconds)
        if seconds < 120 { return "\(rounded(seconds)) s" }
        if seconds < 7200 { return "\(Int(seconds / 60)) min" }
        if seconds < 172_800 { return "\(rounded(seconds / 3600)) h" }
        return "\(rounded(seconds / 86400)) d"
    }
}

/// Quoted times and request ids, each made once: the events of one request share them.
public final class ISO8601Cache {
    private var times: [Double: String] = [:]
    private var texts: [String: String] = [:]

    public init() {}

    func quoted(_ time: Double) -> String {
        if let known = times[time] { return known }
        let made = "\"" + Timestamp.iso8601(time) + "\""
        times[time] = made
        return made
    }

    func quotedText(_ text: String?) -> String {
        guard let text else { return "null" }
        if let known = texts[text] { return known }
        let made = JSONText.quoted(text)
        if texts.count < 10_000 { texts[text] = made }
        return made
    }
}

extension String {
    func padded(_ width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}
