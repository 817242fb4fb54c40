import NIOHTTP1

/// The answers of the OTLP routes (docs/protocol.md) in the request's encoding: an empty
/// `Export…ServiceResponse` on success (no bytes in protobuf, `{}` in JSON), and on failure a
/// `google.rpc.Status` with a gRPC code and the message, as OTLP/HTTP clients read errors.
struct OTLPResponse: Sendable, Equatable {
    var status: HTTPResponseStatus
    var encoding: OTLPEncoding
    /// nil: success.
    var message: String?

    static func success(_ encoding: OTLPEncoding) -> Self {
        Self(status: .ok, encoding: encoding, message: nil)
    }

    static func refused(_ status: HTTPResponseStatus, _ message: String, encoding: OTLPEncoding) -> Self {
        Self(status: status, encoding: encoding, message: message)
    }

    var body: [UInt8] {
        guard let message else { return encoding == .json ? Array("{}".utf8) : [] }
        switch encoding {
        case .json:
            return Array("{\"code\":\(grpcCode),\"message\":\(JSONText.quoted(message))}".utf8)
        case .protobuf:
            // Status { int32 code = 1; string message = 2; }
            var out: [UInt8] = [0x08]
            Self.appendVarint(UInt64(grpcCode), to: &out)
            let text = Array(message.utf8)
            out.append(0x12)
            Self.appendVarint(UInt64(text.count), to: &out)
            out += text
            return out
        }
    }

    /// The gRPC code closest to the HTTP status, as the OTLP/HTTP specification maps them.
    private var grpcCode: Int {
        switch status.code {
        case 400: 3  // INVALID_ARGUMENT
        case 401: 16  // UNAUTHENTICATED
        case 404: 5  // NOT_FOUND
        case 405, 415: 12  // UNIMPLEMENTED
        case 413: 8  // RESOURCE_EXHAUSTED
        case 503: 14  // UNAVAILABLE
        default: 13  // INTERNAL
        }
    }

    private static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            out.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        out.append(UInt8(value))
    }
}
