/// What a dead-letter listing shows of a trace export in place of a message preview: its
/// encoding, size and, for protobuf, its span count.
struct TraceSummary {
    var preview: String

    init(_ export: TraceExport) {
        let size = "\(export.body.count) bytes"
        switch export.encoding {
        case .protobuf?:
            let spans = export.body.withUnsafeBytes { ProtobufFraming.checkTraceRequest($0) }
            if case .success(let count) = spans {
                preview = "OTLP protobuf, \(count) \(count == 1 ? "span" : "spans"), \(size)"
            } else {
                preview = "OTLP protobuf, \(size)"
            }
        case .json?:
            preview = "OTLP JSON, \(size)"
        case nil:
            preview = "\(export.contentType), \(size)"
        }
    }
}
