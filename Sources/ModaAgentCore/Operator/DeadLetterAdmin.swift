import FoundationEssentials

/// The operator's actions on dead letters of both kinds, events and trace exports: list, show,
/// replay (each back into its own queue, in their original order) and purge. Each change is one
/// transaction beside a running daemon.
public final class DeadLetterAdmin {
    private let store: QueueStore
    /// Whether the queue has trace exports (schema v6); an older one has events' dead letters only.
    private let hasTraces: Bool

    /// `.readOnly` for list and show, which change nothing; `.readWrite` for replay and purge.
    public init(queuePath: String, access: QueueStore.OperatorAccess) throws(QueueError) {
        store = try QueueStore(operatorPath: queuePath, access: access)
        hasTraces = try store.hasTraces()
    }

    public func close() { store.close() }

    private var columns: String {
        "id, event_id, received_at, dead_at, status, error, request_id, conversation_id, preview, body, "
            + (hasTraces ? "kind, content_type" : "'events', NULL")
    }

    public func list(limit: Int? = nil) throws(QueueError) -> [DeadLetter] {
        let statement = try store.db.prepare(
            "SELECT \(columns) FROM dead_letters ORDER BY id LIMIT \(limit.map { max(0, $0) } ?? -1)"
        )
        var out: [DeadLetter] = []
        while try statement.step() { out.append(Self.read(statement)) }
        return out
    }

    public func find(_ id: Int64) throws(QueueError) -> DeadLetter? {
        let statement = try store.db.prepare("SELECT \(columns) FROM dead_letters WHERE id = ?")
        statement.bind(1, id)
        return try statement.step() ? Self.read(statement) : nil
    }

    /// Moves the given dead letters (all when `ids` is nil) back to the end of their queues, oldest
    /// first: events to the events queue, trace exports to theirs. Returns how many moved.
    public func replay(ids: [Int64]?) throws(QueueError) -> Int {
        let counts = try replayCounts(ids: ids)
        return counts.events + counts.traces
    }

    /// `replay`, telling the two kinds apart.
    public func replayCounts(ids: [Int64]?) throws(QueueError) -> (events: Int, traces: Int) {
        try store.db.transaction { () throws(QueueError) -> (events: Int, traces: Int) in
            let filter = try makeFilter(ids)
            let events = hasTraces ? "\(filter.isEmpty ? "WHERE" : filter + " AND") kind = 'events'" : filter
            let hasIDMark = try QueueCounters.hasIDMark(store.db)
            if hasIDMark {
                // New ids above every id the queue has given, as the daemon's writer gives them (`GroupCommit`);
                // the counters' change below moves the mark past them.
                try store.db.execute(
                    "INSERT INTO events (id, received_at, body) "
                        + "SELECT mark.last + row_number() OVER (ORDER BY id), received_at, body FROM dead_letters, "
                        + "(SELECT \(QueueCounters.highestEventID) AS last FROM counters WHERE id = 1) AS mark "
                        + "\(events) ORDER BY id"
                )
            } else {
                try store.db.execute(
                    "INSERT INTO events (received_at, body) SELECT received_at, body FROM dead_letters \(events) "
                        + "ORDER BY id"
                )
            }
            let moved = store.db.changes
            let lastID = hasIDMark ? try store.db.scalarInt("SELECT max(id) FROM events") ?? 0 : 0
            let bytes =
                try store.db.scalarInt(
                    "SELECT total(length(CAST(body AS BLOB))) FROM dead_letters \(events)"
                ) ?? 0
            try store.db.execute("DELETE FROM dead_letters \(events)")
            let counters = try QueueCounters(store.db)
            try counters.add(QueueCounters.Events(queued: Int64(moved), bytes: bytes, lastID: lastID))
            guard hasTraces else { return (moved, 0) }
            let traces = "\(filter.isEmpty ? "WHERE" : filter + " AND") kind = 'traces'"
            try store.db.execute(
                "INSERT INTO traces (received_at, content_type, body) "
                    + "SELECT received_at, coalesce(content_type, 'application/x-protobuf'), body FROM dead_letters "
                    + "\(traces) ORDER BY id"
            )
            let movedTraces = store.db.changes
            let traceBytes =
                try store.db.scalarInt("SELECT total(length(CAST(body AS BLOB))) FROM dead_letters \(traces)") ?? 0
            try store.db.execute("DELETE FROM dead_letters \(traces)")
            try counters.add(QueueCounters.Traces(queued: Int64(movedTraces), bytes: traceBytes))
            return (moved, movedTraces)
        }
    }

    /// Deletes dead letters: the given ids, all (`ids` nil), or those dead-lettered before `olderThan`.
    public func purge(ids: [Int64]?, deadBefore: Double? = nil) throws(QueueError) -> Int {
        try store.db.transaction { () throws(QueueError) -> Int in
            if let deadBefore {
                try store.db.execute("DELETE FROM dead_letters WHERE dead_at < \(deadBefore)")
            } else {
                try store.db.execute("DELETE FROM dead_letters \(try makeFilter(ids))")
            }
            return store.db.changes
        }
    }

    /// The ids that do not exist, so the operator hears about typos instead of a silent no-op.
    public func missing(_ ids: [Int64]) throws(QueueError) -> [Int64] {
        var missing: [Int64] = []
        for id in ids where try find(id) == nil { missing.append(id) }
        return missing
    }

    private func makeFilter(_ ids: [Int64]?) throws(QueueError) -> String {
        guard let ids else { return "" }
        return "WHERE id IN (\(ids.map(String.init).joined(separator: ",")))"
    }

    private static func read(_ statement: SQLiteStatement) -> DeadLetter {
        let kind = DeadLetter.Kind(rawValue: statement.text(10) ?? "events") ?? .events
        var letter = DeadLetter(
            id: statement.int64(0),
            kind: kind,
            eventID: statement.int64(1),
            receivedAt: statement.double(2),
            deadAt: statement.double(3),
            status: Int(statement.int64(4)),
            error: statement.text(5) ?? "",
            requestId: statement.text(6),
            conversationId: statement.text(7),
            preview: statement.text(8),
            body: ""
        )
        if kind == .traces {
            let bytes = statement.bytes(9)
            let contentType = statement.text(11) ?? "application/x-protobuf"
            letter.contentType = contentType
            letter.exportBody = bytes
            if OTLPEncoding(contentType: contentType) == .json { letter.body = String(decoding: bytes, as: UTF8.self) }
        } else {
            letter.body = statement.text(9) ?? ""
        }
        return letter
    }
}

extension DeadLetter {
    /// One element of `dead-letters list --json` (docs/operating.md).
    public var listJSON: JSONValue {
        [
            "id": JSONValue(id), "kind": JSONValue(kind.rawValue), "time": JSONValue(Timestamp.iso8601(deadAt)),
            "status": JSONValue(status), "error": JSONValue(error), "requestId": JSONValue(requestId),
            "conversationId": JSONValue(conversationId), "preview": JSONValue(preview),
        ]
    }

    /// `dead-letters show`: the listing plus the event itself and when it was received.
    public var detailJSON: JSONValue {
        guard case .object(var object) = listJSON else { return listJSON }
        object["receivedAt"] = JSONValue(Timestamp.iso8601(receivedAt))
        object["queueId"] = JSONValue(eventID)
        if kind == .traces {
            // The export as stored: JSON as itself, protobuf in base64 (`base64 -d` gives the bytes back).
            object["contentType"] = JSONValue(contentType)
            if !body.isEmpty, let json = JSONValue.parse(body.utf8) {
                object["export"] = json
            } else {
                object["exportBase64"] = JSONValue(Data(exportBody ?? []).base64EncodedString())
            }
            return .object(object)
        }
        object["event"] = JSONValue.parse(body.utf8) ?? JSONValue(body)
        return .object(object)
    }
}
