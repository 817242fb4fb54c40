/// One OTLP/HTTP trace export as the receivers store it and delivery relays it (docs/protocol.md): the
/// body as received (after gzip decoding), never re-encoded, and the `Content-Type` it came with.
public struct TraceExport: Sendable, Equatable {
    public var contentType: String
    public var body: [UInt8]

    public init(contentType: String, body: [UInt8]) {
        self.contentType = contentType
        self.body = body
    }

    public var encoding: OTLPEncoding? { OTLPEncoding(contentType: contentType) }
}

/// The two encodings of OTLP/HTTP.
public enum OTLPEncoding: String, Sendable {
    case protobuf
    case json

    /// From a `Content-Type` header: its media type, parameters (`; charset=utf-8`) and case ignored.
    /// nil for anything else (the receivers answer 415).
    public init?(contentType: String) {
        let media = contentType.split(separator: ";", maxSplits: 1).first ?? ""
        switch media.trimmingASCIIWhitespace().lowercased() {
        case "application/x-protobuf", "application/protobuf": self = .protobuf
        case "application/json": self = .json
        default: return nil
        }
    }

    /// The media type answers are sent with.
    public var mediaType: String {
        switch self {
        case .protobuf: "application/x-protobuf"
        case .json: "application/json"
        }
    }
}

extension Substring {
    func trimmingASCIIWhitespace() -> Substring {
        var text = self
        while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" { text.removeLast() }
        return text
    }
}
