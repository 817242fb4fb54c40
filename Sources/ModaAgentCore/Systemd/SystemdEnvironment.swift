#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Reading the variables systemd sets for a service (`LISTEN_*`, `WATCHDOG_*`), the way libsystemd parses them.
enum SystemdEnvironment {
    static func value(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// A process ID in a `*_PID` variable: a positive decimal that fits `pid_t`; nil for anything else.
    static func processID(_ text: String) -> pid_t? {
        guard let pid = pid_t(text), pid > 0 else { return nil }
        return pid
    }

    /// `WATCHDOG_USEC` when the watchdog is meant for this process (sd_watchdog_enabled(3), variables left set):
    /// a positive number of microseconds other than "infinity" (`UInt64.max`), and `WATCHDOG_PID`, if set, naming
    /// us. nil otherwise, including for malformed values.
    static func watchdogMicroseconds() -> UInt64? {
        guard let text = self.value("WATCHDOG_USEC"), let usec = UInt64(text), usec != 0, usec != .max else {
            return nil
        }
        if let pid = self.value("WATCHDOG_PID"), self.processID(pid) != getpid() { return nil }
        return usec
    }
}
