/// Why a batch did not go through, as an operator should see it in `status` and dead letters.
public struct DeliveryFault: Sendable, Equatable {
    /// The HTTP status; nil when there was no response (transport failure).
    public var status: Int?
    /// The API's `message`, or a description of what went wrong when the API gave none.
    public var message: String
    /// The API's `requestId`, for Moda support.
    public var requestId: String?

    public init(status: Int?, message: String, requestId: String? = nil) {
        self.status = status
        self.message = message
        self.requestId = requestId
    }
}
