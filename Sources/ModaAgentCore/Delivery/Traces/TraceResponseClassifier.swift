import FoundationEssentials

/// Turns the outcome of one trace export POST into a `DeliveryDecision`, per the OTLP/HTTP
/// specification (docs/protocol.md). Pure, like `ResponseClassifier`:
/// 1. No response (connection error, timeout): retry; an untrusted server certificate: pause, as for events.
/// 2. 2xx: delivered, whatever the body; a `partial_success` naming rejected spans is reported
///    beside the decision, for the log and a counter.
/// 3. 3xx, 401, 403, 404: pause, as for events: the configuration is at fault, not the export.
/// 4. 408, 429, 502, 503, 504: retry (`Retry-After` honoured).
/// 5. Any other 4xx or 5xx: not retryable. A merged batch is split to find the export at fault;
///    a single export goes to the dead letters with the message. An export is never split.
/// 6. Anything else (1xx, out-of-range codes): retry.
enum TraceResponseClassifier {
    struct PartialSuccess: Sendable, Equatable {
        var rejectedSpans: Int64
        var message: String
    }

    static func classify(_ result: UploadResult, exportCount: Int) -> (DeliveryDecision, PartialSuccess?) {
        let response: UploadResponse
        switch result {
        case .transportFailure(let reason):
            let message = reason.isEmpty ? "connection failed" : reason
            return (.retry(after: nil, fault: DeliveryFault(status: nil, message: message)), nil)
        case .certificateRejected(let reason):
            return (.pause(.misconfigured, fault: DeliveryFault(status: nil, message: reason)), nil)
        case .response(let answered):
            response = answered
        }
        let status = response.status
        let retryAfter = RetryAfter.seconds(from: response.retryAfter)
        let fault = DeliveryFault(status: status, message: message(for: response))
        switch status {
        case 200..<300:
            return (.delivered(requestId: nil), partialSuccess(response.body))
        case 300..<400:
            let target = response.location.map { " to \($0)" } ?? ""
            let redirect = DeliveryFault(
                status: status,
                message: "the traces endpoint redirects (\(HTTPStatusText.describe(status)))\(target); "
                    + "set `tracesEndpoint` to the final URL"
            )
            return (.pause(.misconfigured, fault: redirect), nil)
        case 401, 403:
            return (.pause(.unauthorized, fault: fault), nil)
        case 404:
            return (.pause(.misconfigured, fault: fault), nil)
        case 408, 429, 502, 503, 504:
            return (.retry(after: retryAfter, fault: fault), nil)
        case 400..<600:
            return (exportCount > 1 ? .split(fault: fault) : .deadLetter(fault: fault), nil)
        default:
            var unexpected = fault
            unexpected.message = "unexpected HTTP status \(status): " + fault.message
            return (.retry(after: retryAfter, fault: unexpected), nil)
        }
    }

    /// The message of an OTLP error (`google.rpc.Status`, protobuf or JSON) or of Moda's JSON
    /// error shape; otherwise the status and the start of the body.
    static func message(for response: UploadResponse) -> String {
        let status = HTTPStatusText.describe(response.status)
        if let message = APIResponseBody.parse(response.body)?.message, !message.isEmpty { return message }
        if let message = protobufStatusMessage(response.body), !message.isEmpty { return message }
        switch response.status {
        case 401, 403:
            return "\(status): the API key was refused; check MODA_API_KEY, the api-key credential or apiKeyFile"
        case 404:
            return "\(status): the endpoint does not accept trace exports; check `tracesEndpoint` (or `endpoint`)"
        default:
            break
        }
        if let excerpt = ResponseClassifier.excerpt(response.body) { return "\(status): \(excerpt)" }
        return status
    }

    /// Field 2 (`message`) of a protobuf `google.rpc.Status`, when the body is one.
    static func protobufStatusMessage(_ body: [UInt8]) -> String? {
        var message: String?
        let parsed = ProtobufFields.each(in: body[...]) { field, value in
            if field == 2, case .bytes(let bytes) = value {
                guard bytes.withUnsafeBytes({ UTF8Validation.firstInvalidOffset(in: $0) }) == nil else { return false }
                message = String(decoding: bytes, as: UTF8.self)
            }
            return true
        }
        return parsed ? message : nil
    }

    /// `partial_success` of an `ExportTraceServiceResponse` with spans rejected, in protobuf
    /// (field 1: rejected_spans = 1, error_message = 2) or JSON.
    static func partialSuccess(_ body: [UInt8]) -> PartialSuccess? {
        guard !body.isEmpty else { return nil }
        if let json = try? JSONDecoder().decode(JSONResponse.self, from: Data(body)) {
            guard let partial = json.partialSuccess, partial.rejectedSpans > 0 else { return nil }
            return PartialSuccess(rejectedSpans: partial.rejectedSpans, message: partial.errorMessage ?? "")
        }
        var found: PartialSuccess?
        _ = ProtobufFields.each(in: body[...]) { field, value in
            guard field == 1, case .bytes(let inner) = value else { return true }
            var partial = PartialSuccess(rejectedSpans: 0, message: "")
            let ok = ProtobufFields.each(in: inner) { field, value in
                switch (field, value) {
                case (1, .varint(let count)): partial.rejectedSpans = Int64(bitPattern: count)
                case (2, .bytes(let text)): partial.message = String(decoding: text, as: UTF8.self)
                default: break
                }
                return true
            }
            if ok, partial.rejectedSpans > 0 { found = partial }
            return true
        }
        return found
    }

    private struct JSONResponse: Decodable {
        struct Partial: Decodable {
            var rejectedSpans: Int64
            var errorMessage: String?

            private enum CodingKeys: String, CodingKey { case rejectedSpans, errorMessage }

            init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: CodingKeys.self)
                // proto3 JSON writes int64 as a string; numbers are accepted too.
                if let text = try? container.decodeIfPresent(String.self, forKey: .rejectedSpans) {
                    rejectedSpans = Int64(text) ?? 0
                } else {
                    rejectedSpans = (try? container.decodeIfPresent(Int64.self, forKey: .rejectedSpans)) ?? 0
                }
                errorMessage = try? container.decodeIfPresent(String.self, forKey: .errorMessage)
            }
        }

        var partialSuccess: Partial?
    }
}

/// The top-level fields of a protobuf message, one at a time; false when the framing breaks.
enum ProtobufFields {
    enum Value {
        case varint(UInt64)
        case bytes(ArraySlice<UInt8>)
        case fixed
    }

    static func each(in bytes: ArraySlice<UInt8>, _ visit: (UInt64, Value) -> Bool) -> Bool {
        var index = bytes.startIndex
        func varint() -> UInt64? { Varint.read(bytes, &index) }
        while index < bytes.endIndex {
            guard let tag = varint() else { return false }
            let value: Value
            switch tag & 7 {
            case 0:
                guard let number = varint() else { return false }
                value = .varint(number)
            case 1, 5:
                let size = tag & 7 == 1 ? 8 : 4
                guard bytes.endIndex - index >= size else { return false }
                index += size
                value = .fixed
            case 2:
                guard let length = varint(), length <= UInt64(bytes.endIndex - index) else { return false }
                value = .bytes(bytes[index..<(index + Int(length))])
                index += Int(length)
            default:
                return false
            }
            guard visit(tag >> 3, value) else { return false }
        }
        return true
    }
}
