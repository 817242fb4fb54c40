/// Why a request got no response, as the `Uploader` words it. The words are the message an
/// operator sees under `Last error`; `modactl status` reads them back (the database keeps the
/// message only) to say what to check, so each kind's message starts with its own fixed words.
public enum TransportFailure: Sendable, Equatable {
    /// The endpoint's host name does not resolve: no network, no DNS, or a typo in `endpoint`.
    case unresolvedHost(host: String, reason: String)
    /// The host resolved, but no connection could be made: refused, unreachable, a firewall.
    case cannotConnect(reason: String)
    /// No complete answer within `delivery.timeoutSeconds`.
    case timedOut(seconds: Double)
    /// The server closed the connection before it answered.
    case closedEarly
    /// Anything else (TLS, a proxy, the client library); `reason` is its own description.
    case other(reason: String)

    static let unresolvedPrefix = "cannot resolve the host "
    static let connectPrefix = "cannot connect to the endpoint"
    static let timeoutPrefix = "timeout after "
    static let closedMessage = "the server closed the connection before answering"

    public var message: String {
        switch self {
        case .unresolvedHost(let host, let reason): "\(Self.unresolvedPrefix)\(host): \(reason)"
        case .cannotConnect(let reason): "\(Self.connectPrefix): \(reason)"
        case .timedOut(let seconds): "\(Self.timeoutPrefix)\(Self.shown(seconds)) s (delivery.timeoutSeconds)"
        case .closedEarly: Self.closedMessage
        case .other(let reason): reason.isEmpty ? "connection failed" : "connection failed: \(reason)"
        }
    }

    /// "2", "2.5": the configured timeout as written, without a trailing `.0`.
    private static func shown(_ seconds: Double) -> String {
        seconds == seconds.rounded() && seconds < 1e15 ? String(Int(seconds)) : String(seconds)
    }
}

extension DeliveryFault {
    /// What kind of failure this is, for the hint under `retrying` in `modactl status`: a name
    /// that does not resolve is not Moda's doing, a 503 is.
    public enum Cause: Sendable, Equatable {
        case unresolvedHost
        case cannotConnect
        case timedOut
        case closedEarly
        /// No response, for another reason (TLS, a proxy, the client library).
        case noResponse
        /// Moda (or whatever answers at the endpoint) answered with this status.
        case answered(Int)
    }

    public var cause: Cause { Self.cause(status: status, message: message) }

    /// Read back from what the database keeps of a fault: its status and message.
    public static func cause(status: Int?, message: String) -> Cause {
        if let status { return .answered(status) }
        if message.hasPrefix(TransportFailure.unresolvedPrefix) { return .unresolvedHost }
        if message.hasPrefix(TransportFailure.connectPrefix) { return .cannotConnect }
        if message.hasPrefix(TransportFailure.timeoutPrefix) { return .timedOut }
        if message.hasPrefix(TransportFailure.closedMessage) { return .closedEarly }
        return .noResponse
    }
}
