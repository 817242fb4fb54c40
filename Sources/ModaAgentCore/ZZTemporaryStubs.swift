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
