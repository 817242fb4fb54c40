import ModaAgentTestSupport
import Testing

@testable import ModaAgentCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Notifications against a real datagram socket named by `NOTIFY_SOCKET`, the way systemd receives it.
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

    @Test(
        "with trace delivery running, STATUS= carries its queue and state after the events'",
        arguments: [
            (1, "retrying", "queued 0 events, delivery ok; queued 1 trace export, trace delivery retrying"),
            (0, "idle", "queued 0 events, delivery ok; queued 0 trace exports, trace delivery idle"),
        ]
    )
    func statusLineWithTraces(queued: Int, state: String, expected: String) {
        #expect(
            SystemdNotifier.statusLine(queuedEvents: 0, deliveryState: "ok", traces: (queued, state)) == expected
        )
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
        let environment = EnvironmentOverride([
            "NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": String(getpid()),
        ])
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

    @Test func abstractNotifySocket() throws {
        let listener = try DatagramListener(abstract: true)
        #expect(listener.path.hasPrefix("@"))
        let environment = EnvironmentOverride(["NOTIFY_SOCKET": listener.path])
        defer { environment.restore() }
        let notifier = SystemdNotifier()
        notifier.ready()
        #expect(try listener.receive() == "READY=1")
        notifier.status("abstract")
        #expect(try listener.receive() == "STATUS=abstract")
    }

    /// A bad `NOTIFY_SOCKET` (too long for `sun_path`, relative, empty) sends nothing and never takes the
    /// daemon down: notifications are best effort.
    @Test(arguments: [
        "/tmp/moda-" + String(repeating: "x", count: 200), "@" + String(repeating: "y", count: 4_000),
        "relative.sock", "@", "/", "vsock:2:1234",
    ])
    func badNotifyAddressIsIgnored(address: String) throws {
        let environment = EnvironmentOverride(["NOTIFY_SOCKET": address])
        defer { environment.restore() }
        let notifier = SystemdNotifier()
        notifier.ready()
        notifier.status("still here")
        notifier.stopping()
    }

    @Test("watchdog() sends nothing unless WATCHDOG_USEC asks, for this process")
    func watchdogOnlyWhenAsked() throws {
        let listener = try DatagramListener()
        for (usec, pid) in [(nil, nil), ("30000000", "1")] as [(String?, String?)] {
            let environment = EnvironmentOverride([
                "NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": usec, "WATCHDOG_PID": pid,
            ])
            defer { environment.restore() }
            let notifier = SystemdNotifier()
            notifier.watchdog()
            notifier.status("marker")
            #expect(
                try listener.receive() == "STATUS=marker",
                "WATCHDOG_USEC \(usec ?? "unset"), WATCHDOG_PID \(pid ?? "unset")"
            )
        }
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
            // USEC_INFINITY means no watchdog; a malformed WATCHDOG_PID is not ours either.
            ("18446744073709551615", "self", nil),
            ("30000000", "me", nil),
            ("-5", "self", nil),
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
