import NIOHTTP1

/// An answer of the HTTP receivers, whichever route's shape it has, so the handler writes both
/// through one path.
protocol HTTPAnswer {
    var status: HTTPResponseStatus { get }
    var contentType: String { get }
    var bodyBytes: [UInt8] { get }
}

extension IngestAPIResponse: HTTPAnswer {
    var contentType: String { "application/json" }
    var bodyBytes: [UInt8] { Array(json.utf8) }
}

extension OTLPResponse: HTTPAnswer {
    var contentType: String { encoding.mediaType }
    var bodyBytes: [UInt8] { body }
}
