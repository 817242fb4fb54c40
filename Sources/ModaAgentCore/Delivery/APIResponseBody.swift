import FoundationEssentials

/// The fields of a Moda API response body the classifier needs.
///
/// Read leniently: a field of the wrong type counts as absent rather than making the whole body
/// unreadable, so a well-formed `message` still reaches the operator. Only a body that is not a
/// JSON object at all yields nil.
struct APIResponseBody: Decodable, Equatable {
    var success: Bool?
    var message: String?
    var requestId: String?
    var retryable: Bool?

    private enum CodingKeys: String, CodingKey {
        case success, message, requestId, retryable
    }

    init(success: Bool? = nil, message: String? = nil, requestId: String? = nil, retryable: Bool? = nil) {
        self.success = success
        self.message = message
        self.requestId = requestId
        self.retryable = retryable
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        success = try? container.decodeIfPresent(Bool.self, forKey: .success)
        message = try? container.decodeIfPresent(String.self, forKey: .message)
        requestId = try? container.decodeIfPresent(String.self, forKey: .requestId)
        retryable = try? container.decodeIfPresent(Bool.self, forKey: .retryable)
    }

    /// The parsed body, or nil when it is empty or not a JSON object. Response bodies are small
    /// and arrive once per batch, so Foundation's decoder is cheap enough here.
    static func parse(_ bytes: [UInt8]) -> APIResponseBody? {
        guard !bytes.isEmpty else { return nil }
        return try? JSONDecoder().decode(APIResponseBody.self, from: Data(bytes))
    }
}
