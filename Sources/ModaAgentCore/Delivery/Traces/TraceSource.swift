import Logging

/// The trace exports' queue (SPEC 10.2): exports relayed as received to `tracesEndpoint`, with
/// their own `Content-Type`. Protobuf exports of one batch are concatenated (concatenated
/// messages of one type merge their repeated fields, so N exports make one valid
/// `ExportTraceServiceRequest`); a JSON export always goes alone.
struct TraceSource: DeliverySource {
    let reader: QueueStore
    let logger: Logger
    /// `batch.maxBytes`: a JSON export is scanned as at least this size, so the batcher never
    /// puts anything beside it.
    let maxBatchBytes: Int

    var queueName: String { "traces" }
    var itemName: String { "trace export" }

    func lastID() throws(QueueError) -> Int64 { try reader.lastTraceID() }

    func scan(after: Int64, limit: Int) throws(QueueError) -> [ScannedEvent] {
        try reader.scanTraces(after: after, limit: limit).map { scanned, encoding in
            var event = scanned
            if encoding != .protobuf { event.bytes = max(event.bytes, maxBatchBytes) }
            return event
        }
    }

    func request(ids: [Int64]) throws(QueueError) -> OutgoingRequest? {
        let traces = try reader.traces(ids: ids)
        guard let first = traces.first else { return nil }
        if traces.count == 1 { return OutgoingRequest(body: first.export.body, contentType: first.export.contentType) }
        var body: [UInt8] = []
        body.reserveCapacity(traces.reduce(0) { $0 + $1.export.body.count })
        for trace in traces { body += trace.export.body }
        return OutgoingRequest(body: body, contentType: first.export.contentType)
    }

    func endpoint(_ settings: DeliverySettings) -> String { settings.tracesEndpoint }

    func classify(_ result: UploadResult, itemCount: Int) -> DeliveryDecision {
        let (decision, partial) = TraceResponseClassifier.classify(result, exportCount: itemCount)
        if let partial {
            TraceMetrics.rejectedSpans(partial.rejectedSpans)
            logger.warning(
                "the upstream accepted a trace export in part (partial_success)",
                metadata: ["rejected_spans": "\(partial.rejectedSpans)", "message": "\(partial.message)"]
            )
        }
        return decision
    }

    func removal(ids: [Int64], through: Int64, status: DeliveryStatus, log: DeliveryRecord?) -> QueueWrite {
        .markTracesDelivered(ids: ids, status: status)
    }

    func deadLetter(
        id: Int64,
        fault: DeliveryFault,
        at time: Double,
        status: DeliveryStatus,
        latency: Double?
    ) throws(QueueError)
        -> QueueWrite?
    {
        try reader.traces(ids: [id]).first.map { .deadLetterTrace($0, fault: fault, at: time, status: status) }
    }

    func statusWrite(_ status: DeliveryStatus) -> QueueWrite { .traceStatus(status) }

    func readStatus() throws(QueueError) -> DeliveryStatus { try reader.readTraceStatus() }

    func queuedCount() -> Int { (try? reader.traceCounters().queuedExports) ?? 0 }
}
