import Logging
import NIOCore

/// The trace exports' queue (docs/protocol.md): exports relayed as received to `tracesEndpoint`, with
/// their own `Content-Type`. Protobuf exports of one batch are concatenated (concatenated
/// messages of one type merge their repeated fields, so N exports make one valid
/// `ExportTraceServiceRequest`); a JSON export travels alone (`ScannedEvent.travelsAlone`): JSON
/// documents cannot be concatenated into one.
struct TraceSource: DeliverySource {
    let reader: QueueStore
    let logger: Logger

    var kind: DeliveryQueue { .traces }

    func lastID() throws(QueueError) -> Int64 { try reader.lastTraceID() }

    func scan(after: Int64, limit: Int) throws(QueueError) -> [ScannedEvent] {
        try reader.scanTraces(after: after, limit: limit).map { scanned, encoding in
            var event = scanned
            event.travelsAlone = encoding != .protobuf
            return event
        }
    }

    /// Trace commits announce no bodies: `kept` holds none of them.
    func request(
        ids: [Int64],
        spare: consuming ByteBuffer,
        kept: borrowing RecentBodies
    ) throws(QueueError)
        -> OutgoingRequest?
    {
        let traces = try reader.traces(ids: ids)
        guard let first = traces.first else { return nil }
        var body = ByteBuffer()
        body.reserveCapacity(traces.reduce(0) { $0 + $1.export.body.count })
        for trace in traces { body.writeBytes(trace.export.body) }
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

    /// The export as received, with the verdict beside it.
    func deadLetter(id: Int64, _ verdict: DeadLetterVerdict) throws(QueueError) -> QueueWrite? {
        guard let trace = try reader.traces(ids: [id]).first else { return nil }
        return .deadLetterTrace(trace, fault: verdict.fault, at: verdict.time, status: verdict.status)
    }
}
