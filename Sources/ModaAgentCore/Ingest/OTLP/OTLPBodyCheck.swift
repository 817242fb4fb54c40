/// Whether a `/v1/traces` body is what its `Content-Type` says (docs/protocol.md), before it is stored:
/// protobuf framing (`ProtobufFraming`), or one JSON object (the socket's own UTF-8 and syntax
/// checks). The message is the 400's.
enum OTLPBodyCheck {
    static func check(_ bytes: UnsafeRawBufferPointer, encoding: OTLPEncoding) -> String? {
        switch encoding {
        case .protobuf:
            if case .failure(let fault) = ProtobufFraming.checkTraceRequest(bytes) {
                return "the body is not an OTLP protobuf ExportTraceServiceRequest: \(fault.message)"
            }
            return nil
        case .json:
            if let offset = UTF8Validation.firstInvalidOffset(in: bytes) {
                return "the body is not valid UTF-8 (at byte \(offset)); OTLP JSON is UTF-8"
            }
            if let error = JSONScanner.validateSyntax(bytes) {
                return "the body is not OTLP JSON: \(error.message)"
            }
            var scanner = JSONScanner(bytes: bytes)
            scanner.skipWhitespace()
            guard scanner.current == UInt8(ascii: "{") else {
                return
                    "the body is not OTLP JSON: an ExportTraceServiceRequest is a JSON object "
                    + "({\"resourceSpans\":[...]})"
            }
            return nil
        }
    }
}
