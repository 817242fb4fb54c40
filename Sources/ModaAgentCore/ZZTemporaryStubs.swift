// TEMPORARY: replaced by the real Systemd/ and Delivery/ decision files.
import Logging
public struct SystemdNotifier: Sendable {
    public init() {}
    public func ready() {}
    public func status(_ text: String) {}
    public func stopping() {}
    public func reloading() {}
    public func readyAfterReload() {}
    public func watchdog() {}
    public static func watchdogInterval() -> Duration? { nil }
    public static func statusLine(queuedEvents: Int, deliveryState: String) -> String { "queued \(queuedEvents) events, delivery \(deliveryState)" }
}
public enum SocketActivation { public static func listeningUnixStreamSocket() throws -> CInt? { nil } }
public enum LoggingSetup { public static func bootstrap(level: Logger.Level) { LoggingSystem.bootstrap { var h = StreamLogHandler.standardError(label: $0); h.logLevel = level; return h } } }
public struct UploadResponse: Sendable, Equatable { public var status: Int; public var retryAfter: String?; public var body: [UInt8] }
public enum UploadResult: Sendable, Equatable { case response(UploadResponse); case transportFailure(String) }
public struct DeliveryFault: Sendable, Equatable { public var status: Int?; public var message: String; public var requestId: String? }
public enum PauseReason: String, Sendable { case unauthorized, misconfigured }
public enum DeliveryDecision: Sendable, Equatable {
    case delivered(requestId: String?)
    case retry(after: Double?, fault: DeliveryFault)
    case split(fault: DeliveryFault)
    case deadLetter(fault: DeliveryFault)
    case pause(PauseReason, fault: DeliveryFault)
}
public enum ResponseClassifier { public static func classify(_ result: UploadResult, eventCount: Int) -> DeliveryDecision {
    if case .response(let r) = result, r.status == 200 { return .delivered(requestId: nil) }
    return .retry(after: nil, fault: DeliveryFault(status: nil, message: "x", requestId: nil)) } }
public struct Backoff: Sendable, Equatable { public var initial: Double; public var maximum: Double
    public func delay(attempt: Int, retryAfter: Double?, using generator: inout some RandomNumberGenerator) -> Double { initial } }
