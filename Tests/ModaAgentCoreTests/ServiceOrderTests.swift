import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle
import Testing

@testable import ModaAgentCore

/// The daemon's service order: each service starts once the one before it is up, the group stops them in
/// reverse, and a failure at start cancels the others and comes out of the group as it was thrown.
@Suite struct ServiceOrderTests {
    /// Records "up NAME" once up (after a pause, so a successor starting early would show) and "down NAME"
    /// once asked to stop.
    struct Part: DaemonService {
        let name: String
        let log: NIOLockedValueBox<[String]>
        var fails = false

        func run(up: @escaping @Sendable () -> Void) async throws {
            try await Task.sleep(for: .milliseconds(20))
            if fails { throw TestFailure() }
            log.withLockedValue { $0.append("up \(name)") }
            up()
            try? await gracefulShutdown()
            log.withLockedValue { $0.append("down \(name)") }
        }
    }

    /// Ends the group once everything before it is up, as SIGTERM ends the signal service.
    struct Ender: Service {
        let log: NIOLockedValueBox<[String]>
        func run() async throws { log.withLockedValue { $0.append("all up") } }
    }

    struct TestFailure: Error {}

    private func group(_ order: ServiceOrder, allUp: @escaping @Sendable () -> Void) -> ServiceGroup {
        var configuration = ServiceGroupConfiguration(
            services: order.configurations(allUp: allUp),
            logger: Logger(label: "test")
        )
        configuration.maximumGracefulShutdownDuration = .seconds(10)
        return ServiceGroup(configuration: configuration)
    }

    @Test func startsInOrderOnceEachIsUpAndStopsInReverse() async throws {
        let log = NIOLockedValueBox<[String]>([])
        var order = ServiceOrder()
        for name in ["queue", "delivery", "ingest"] { order.append(name, Part(name: name, log: log)) }
        order.append("signals", Ender(log: log), endsGroup: true)
        let announced = NIOLockedValueBox(0)
        try await group(order) { announced.withLockedValue { $0 += 1 } }.run()
        #expect(
            log.withLockedValue { $0 } == [
                "up queue", "up delivery", "up ingest", "all up", "down ingest", "down delivery", "down queue",
            ]
        )
        #expect(announced.withLockedValue { $0 } == 1)
    }

    @Test func aFailureAtStartCancelsTheRestAndIsThrownAsItWas() async throws {
        let log = NIOLockedValueBox<[String]>([])
        var order = ServiceOrder()
        order.append("queue", Part(name: "queue", log: log))
        order.append("ingest", Part(name: "ingest", log: log, fails: true))
        order.append("heartbeat", Part(name: "heartbeat", log: log))
        order.append("signals", Ender(log: log), endsGroup: true)
        await #expect(throws: TestFailure.self) {
            try await group(order) { Issue.record("nothing after a failed service may start") }.run()
        }
        #expect(log.withLockedValue { $0 } == ["up queue", "down queue"])
    }

    @Test func exitStatusOfEachFailure() {
        #expect(DaemonStartError.exitStatus(for: QueueError.locked(path: "/q", pid: 1)) == 75)
        #expect(DaemonStartError.exitStatus(for: IngestError.socketInUse(path: "/s")) == 75)
        #expect(DaemonStartError.exitStatus(for: IngestError.cannotBind(path: "/s", reason: "r")) == 1)
        #expect(DaemonStartError.exitStatus(for: TestFailure()) == 1)
        let listen = DaemonStartError.listen(setting: "http.listen", address: "127.0.0.1:80", TestFailure())
        #expect("\(listen)".contains("cannot listen on http.listen 127.0.0.1:80"))
        #expect("\(listen)".contains("free the port or change the setting"))
    }
}
