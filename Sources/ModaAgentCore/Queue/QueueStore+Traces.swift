/// The trace exports' queue (docs/protocol.md, schema v6), read like the events': by delivery's driver
/// for traces and by the operator's commands. Statements are prepared per call: exports are few
/// and large, and a daemon without HTTP receivers never reads them.
extension QueueStore {
    public struct TraceCounters: Sendable, Equatable {
        public var queuedExports: Int
        public var queuedBytes: Int
        public var deliveredExports: Int
    }

    /// Whether the database has the traces queue (v6); an older one, read by a newer modactl, has not.
    func hasTraces() throws(QueueError) -> Bool {
        try db.scalarInt("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'traces'") == 1
    }

    /// Up to `limit` exports after `afterID`: id, stored size and encoding (0 protobuf, 1 JSON, in
    /// `conversation`), without their bodies.
    func scanTraces(after afterID: Int64, limit: Int) throws(QueueError) -> [(ScannedEvent, OTLPEncoding?)] {
        let statement = try db.prepare(
            "SELECT id, length(body), content_type FROM traces WHERE id > ? ORDER BY id LIMIT ?"
        )
        statement.bind(1, afterID)
        statement.bind(2, Int64(limit))
        var out: [(ScannedEvent, OTLPEncoding?)] = []
        while try statement.step() {
            let encoding = OTLPEncoding(contentType: statement.text(2) ?? "")
            out.append(
                (ScannedEvent(id: statement.int64(0), bytes: Int(statement.int64(1)), conversation: 0), encoding)
            )
        }
        return out
    }

    /// The exports with these ids (ascending) still queued.
    func traces(ids: [Int64]) throws(QueueError) -> [QueuedTrace] {
        let statement = try db.prepare(
            "SELECT id, received_at, content_type, body FROM traces WHERE id BETWEEN ? AND ? ORDER BY id"
        )
        var out: [QueuedTrace] = []
        for run in IDRuns(ids) {
            statement.bind(1, run.lowerBound)
            statement.bind(2, run.upperBound)
            while try statement.step() {
                out.append(
                    QueuedTrace(
                        id: statement.int64(0),
                        receivedAt: statement.double(1),
                        export: TraceExport(contentType: statement.text(2) ?? "", body: statement.bytes(3))
                    )
                )
            }
            statement.reset()
        }
        return out
    }

    public func lastTraceID() throws(QueueError) -> Int64 {
        guard try hasTraces() else { return 0 }
        return try db.scalarInt("SELECT max(id) FROM traces") ?? 0
    }

    public func traceCounters() throws(QueueError) -> TraceCounters {
        guard try hasTraces() else { return TraceCounters(queuedExports: 0, queuedBytes: 0, deliveredExports: 0) }
        let statement = try db.prepare(
            "SELECT queued_exports, queued_bytes, delivered_exports FROM trace_counters WHERE id = 1"
        )
        guard try statement.step() else { return TraceCounters(queuedExports: 0, queuedBytes: 0, deliveredExports: 0) }
        return TraceCounters(
            queuedExports: Int(statement.int64(0)),
            queuedBytes: Int(statement.int64(1)),
            deliveredExports: Int(statement.int64(2))
        )
    }

    public func oldestTraceReceivedAt() throws(QueueError) -> Double? {
        guard try hasTraces() else { return nil }
        let statement = try db.prepare("SELECT received_at FROM traces ORDER BY id LIMIT 1")
        guard try statement.step() else { return nil }
        return statement.double(0)
    }

    public func deadTraceCount() throws(QueueError) -> Int {
        guard try hasTraces() else { return 0 }
        return Int(try db.scalarInt("SELECT count(*) FROM dead_letters WHERE kind = 'traces'") ?? 0)
    }

    public func readTraceStatus() throws(QueueError) -> DeliveryStatus {
        try readStatus(table: "trace_delivery_state")
    }
}

/// A trace export as delivery reads it from the queue.
public struct QueuedTrace: Sendable, Equatable {
    public var id: Int64
    public var receivedAt: Double
    public var export: TraceExport
}
