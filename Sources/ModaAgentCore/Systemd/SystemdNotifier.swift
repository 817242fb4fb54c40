import CSystemd

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Tells systemd about the daemon's lifecycle (`Type=notify`): readiness, status line, reloads, shutdown and
/// watchdog pings, through libsystemd's `sd_notify`.
///
/// Outside systemd (`NOTIFY_SOCKET` unset) every send is a cheap no-op, so callers never need to check.
/// Notifications are best effort: a lost datagram must never take the daemon down, so failures are ignored.
public struct SystemdNotifier: Sendable {
    /// Whether the service manager asked for notifications (`NOTIFY_SOCKET` is set).
    ///
    /// Read once at init: the environment is not meant to change under a running daemon, and checking a stored
    /// flag keeps the disabled path free of system calls.
    public let isEnabled: Bool

    /// Whether systemd asked this process for watchdog pings: `WATCHDOG_USEC` set and valid, and
    /// `WATCHDOG_PID`, if set, naming us (docs/operating.md). Pings nobody asked for are noise in the manager's log.
    public let isWatchdogEnabled: Bool

    /// Reads `NOTIFY_SOCKET` and the watchdog variables. They are left in place because libsystemd reads
    /// `NOTIFY_SOCKET` on every send.
    public init() {
        self.isEnabled = Self.environmentValue("NOTIFY_SOCKET").map { !$0.isEmpty } ?? false
        self.isWatchdogEnabled = self.isEnabled && Self.watchdogInterval() != nil
    }

    /// `READY=1`: the queue is open and the socket listens.
    public func ready() {
        self.send("READY=1")
    }

    /// `STATUS=…`: a one-line human-readable state shown by `systemctl status`.
    public func status(_ text: String) {
        // The notify protocol is newline-separated assignments: a newline in the text would end STATUS= early and
        // could smuggle in another assignment (e.g. a bogus READY=1).
        self.send("STATUS=" + Self.singleLine(text))
    }

    /// `STOPPING=1`: shutdown has begun (draining may take up to the drain timeout).
    public func stopping() {
        self.send("STOPPING=1")
    }

    /// `RELOADING=1`: a SIGHUP reload started; follow with ``readyAfterReload()`` when it is done.
    ///
    /// `MONOTONIC_USEC=` is what systemd ≥ 253 requires with `RELOADING=1` for `Type=notify-reload`; older
    /// managers and plain `Type=notify` ignore the extra field.
    public func reloading() {
        guard self.isEnabled else { return }
        self.send("RELOADING=1\nMONOTONIC_USEC=\(Self.monotonicMicroseconds())")
    }

    /// `READY=1` after a reload: tells systemd the reload finished and the unit is active again.
    public func readyAfterReload() {
        self.send("READY=1")
    }

    /// `WATCHDOG=1`: a keep-alive ping; send it every ``watchdogInterval()``.
    public func watchdog() {
        guard self.isWatchdogEnabled else { return }
        self.send("WATCHDOG=1")
    }

    /// Sends raw notify assignments (newline separated), e.g. `EXTEND_TIMEOUT_USEC=…`. A no-op when disabled.
    public func send(_ state: String) {
        guard self.isEnabled else { return }
        // sd_notify returns < 0 on failure (e.g. the manager went away); nothing useful to do about it here.
        _ = moda_sd_notify(0, state)
    }

    /// How often to ping the watchdog: half of `WATCHDOG_USEC`, as sd_watchdog_enabled(3) recommends.
    ///
    /// `nil` when no watchdog is configured, when `WATCHDOG_PID` names another process (the variables were
    /// inherited, not meant for us) or when the variables are malformed.
    public static func watchdogInterval() -> Duration? {
        var usec: UInt64 = 0
        guard moda_sd_watchdog_enabled(0, &usec) > 0, usec > 0 else { return nil }
        return .microseconds(Int64(clamping: usec / 2))
    }

    /// The `STATUS=` text, e.g. `queued 5 events, delivery retrying`.
    ///
    /// `deliveryState` is the same word as `modactl status --json`'s `delivery.state` so that operators see one
    /// vocabulary everywhere.
    /// `traces`: the trace exports' queue and delivery state, when trace delivery runs.
    public static func statusLine(
        queuedEvents: Int,
        deliveryState: String,
        traces: (queued: Int, state: String)? = nil
    ) -> String {
        let noun = queuedEvents == 1 ? "event" : "events"
        var line = "queued \(queuedEvents) \(noun), delivery \(deliveryState)"
        if let traces {
            let exports = traces.queued == 1 ? "export" : "exports"
            line += "; queued \(traces.queued) trace \(exports), trace delivery \(traces.state)"
        }
        return line
    }

    static func singleLine(_ text: String) -> String {
        String(text.map { $0.isNewline ? " " : $0 })
    }

    private static func environmentValue(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    private static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
    }
}
