import Testing

@testable import ModaAgentCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// sd_notify against a real datagram socket named by `NOTIFY_SOCKET`, the way systemd receives it.
///
/// Serialized because the tests set process-wide environment variables, which libsystemd reads on every send.
@Suite(.serialized)
struct SystemdNotifierTests {
    @Test(arguments: [
        (5, "retrying", "queued 5 events, delivery retrying"),
        (1, "ok", "queued 1 event, delivery ok"),
        (0, "idle", "queued 0 events, delivery idle"),
        (1_000_000, "unauthorized", "queued 1000000 events, delivery unauthorized"),
    ])
    func statusLine(queued: Int, state: String, expected: String) {
        #expect(SystemdNotifier.statusLine(queuedEvents: queued, deliveryState: state) == expected)
    }

    @Test func disabledWithoutNotifySocket() {
        let unset = EnvironmentOverride(["NOTIFY_SOCKET": nil])
        defer { unset.restore() }
        let notifier = SystemdNotifier()
        #expect(!notifier.isEnabled)
        // Must be harmless no-ops.
        notifier.ready()
        notifier.status("x")
        notifier.watchdog()
        notifier.stopping()

        let empty = EnvironmentOverride(["NOTIFY_SOCKET": ""])
        defer { empty.restore() }
        #expect(!SystemdNotifier().isEnabled)
    }

    @Test func sendsLifecycleMessages() throws {
        let listener = try DatagramListener()
        let environment = EnvironmentOverride(["NOTIFY_SOCKET": listener.path])
        defer { environment.restore() }
        let notifier = SystemdNotifier()
        #expect(notifier.isEnabled)

        notifier.ready()
        #expect(try listener.receive() == "READY=1")

        notifier.status(SystemdNotifier.statusLine(queuedEvents: 5, deliveryState: "retrying"))
        #expect(try listener.receive() == "STATUS=queued 5 events, delivery retrying")

        notifier.watchdog()
        #expect(try listener.receive() == "WATCHDOG=1")

        notifier.reloading()
        let reloading = try listener.receive().split(separator: "\n").map(String.init)
        #expect(reloading.count == 2)
        #expect(reloading.first == "RELOADING=1")
        let monotonic = reloading.last.flatMap { line in
            line.hasPrefix("MONOTONIC_USEC=") ? UInt64(line.dropFirst("MONOTONIC_USEC=".count)) : nil
        }
        #expect(monotonic != nil)

        notifier.readyAfterReload()
        #expect(try listener.receive() == "READY=1")

        notifier.stopping()
        #expect(try listener.receive() == "STOPPING=1")
    }

    @Test func statusCannotInjectAssignments() throws {
        let listener = try DatagramListener()
        let environment = EnvironmentOverride(["NOTIFY_SOCKET": listener.path])
        defer { environment.restore() }
        SystemdNotifier().status("line one\nREADY=1\r\nthree")
        #expect(try listener.receive() == "STATUS=line one READY=1 three")
    }

    @Test(
        arguments: [
            ("30000000", "self", Duration.seconds(15)),
            ("30000000", nil, .seconds(15)),
            ("1000", "self", .microseconds(500)),
            // Inherited from a supervised parent: not ours to ping.
            ("30000000", "1", nil),
            ("soon", "self", nil),
            ("0", "self", nil),
            (nil, nil, nil),
        ] as [(String?, String?, Duration?)]
    )
    func watchdogIntervalIsHalfOfWatchdogUsec(usec: String?, pid: String?, expected: Duration?) {
        let environment = EnvironmentOverride([
            "WATCHDOG_USEC": usec,
            "WATCHDOG_PID": pid == "self" ? String(getpid()) : pid,
        ])
        defer { environment.restore() }
        #expect(SystemdNotifier.watchdogInterval() == expected)
    }
}

/// A bound `AF_UNIX` `SOCK_DGRAM` socket in /tmp (short path: `sun_path` holds < 108 bytes), like systemd's.
private final class DatagramListener {
    let path: String
    private let fd: CInt

    init() throws {
        self.path = "/tmp/moda-notify-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        self.fd = socket(AF_UNIX, CInt(SOCK_DGRAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        guard self.fd >= 0 else { throw NotifierTestError("socket() failed: errno \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(self.path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(self.fd)
            throw NotifierTestError("socket path too long: \(self.path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(self.fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else {
            close(self.fd)
            throw NotifierTestError("bind(\(self.path)) failed: errno \(errno)")
        }
    }

    deinit {
        close(self.fd)
        unlink(self.path)
    }

    /// The next datagram, waiting at most `timeoutMilliseconds` (sd_notify sends synchronously, so it is
    /// normally there already).
    func receive(timeoutMilliseconds: CInt = 5_000) throws -> String {
        var pollFD = pollfd(fd: self.fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&pollFD, 1, timeoutMilliseconds)
        guard ready > 0 else { throw NotifierTestError("no notification within \(timeoutMilliseconds) ms") }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { recv(self.fd, $0.baseAddress, $0.count, 0) }
        guard count >= 0 else { throw NotifierTestError("recv failed: errno \(errno)") }
        return String(decoding: buffer[0..<count], as: UTF8.self)
    }
}

private struct NotifierTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Sets the variables (or unsets them for `nil`) until ``restore()`` puts back what was there.
private struct EnvironmentOverride {
    private let saved: [(String, String?)]

    init(_ values: [String: String?]) {
        self.saved = values.keys.map { name in (name, getenv(name).map { String(cString: $0) }) }
        for (name, value) in values {
            if let value { setenv(name, value, 1) } else { unsetenv(name) }
        }
    }

    func restore() {
        for (name, value) in self.saved {
            if let value { setenv(name, value, 1) } else { unsetenv(name) }
        }
    }
}
